//! `/api/settings`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::SETTINGS)
}

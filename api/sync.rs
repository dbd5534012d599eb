//! `/api/sync`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::SYNC)
}

//! `/api/uploads`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::UPLOADS)
}

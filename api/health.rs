//! `GET /api/health`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::HEALTH)
}

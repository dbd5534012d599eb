//! `/api/refunds`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::REFUNDS)
}

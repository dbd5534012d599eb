//! `/api/stock`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::STOCK)
}

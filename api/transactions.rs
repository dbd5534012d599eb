//! `/api/transactions`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::TRANSACTIONS)
}

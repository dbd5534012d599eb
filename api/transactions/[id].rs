//! `/api/transactions/{id}`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::TRANSACTIONS_ID)
}

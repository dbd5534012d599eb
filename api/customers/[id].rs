//! `/api/customers/{id}`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::CUSTOMERS_ID)
}

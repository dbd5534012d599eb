//! `/api/customers`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::CUSTOMERS)
}

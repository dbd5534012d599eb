//! `/api/products/{id}`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::PRODUCTS_ID)
}

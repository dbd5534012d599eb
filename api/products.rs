//! `/api/products`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::PRODUCTS)
}

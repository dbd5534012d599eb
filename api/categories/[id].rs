//! `/api/categories/{id}`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::CATEGORIES_ID)
}

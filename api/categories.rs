//! `/api/categories`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::CATEGORIES)
}

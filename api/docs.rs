//! `GET /api/docs`, its assets, and `GET /api/openapi.json`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::DOCS)
}

//! `GET,POST /api/users`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::USERS)
}

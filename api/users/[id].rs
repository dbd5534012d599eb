//! `GET,PATCH,DELETE /api/users/{id}`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::USERS_ID)
}

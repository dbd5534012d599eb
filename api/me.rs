//! `GET,PATCH /api/me`, `POST /api/me/password`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::ME)
}

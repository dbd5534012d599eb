//! `POST /api/auth/{login,refresh,verify,logout}` and simplejwt's `/api/token/` aliases
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::AUTH)
}

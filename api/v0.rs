//! `/api/v0/...`: the KasirGo app's surface
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::V0)
}

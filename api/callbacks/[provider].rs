//! `/api/callbacks/{provider}`: payment providers' signed callbacks
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::CALLBACKS)
}

//! `/api/shifts/{id}` (and `current`, `cash`, `close`, `reopen`)
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::SHIFTS_ID)
}

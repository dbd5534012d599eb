//! `/api/shifts`: open a shift, list shifts
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::SHIFTS)
}

//! `/api/reports/daily`, `/api/reports/monthly`, `/api/reports/summary`
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::REPORTS)
}

//! `/api/cron/{job}`: Vercel Cron Jobs
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::CRON)
}

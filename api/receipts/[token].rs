//! `/api/receipts/{token}`: the receipt page of a share link
fn main() -> std::process::ExitCode {
    kasirgo::serverless::run(&kasirgo::routes::RECEIPTS)
}

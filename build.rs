// The migrations are embedded by `sqlx::migrate!`; rebuild when one is
// added or changed (cargo does not see new files in that folder otherwise).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

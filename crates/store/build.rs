// `sqlx::migrate!` embeds the migrations at compile time; without this, editing a migration
// would not rebuild the crate and a stale binary would disagree with the database.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations/server");
}

//! `sqlx::migrate!` embeds the migration files at compile time, and stable Rust cannot tell cargo it read
//! them: without this, editing a migration alone leaves the old SQL in the build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

//! Rebuilds the crate when a migration is added or changed: `sqlx::migrate!` embeds the
//! `migrations/` directories at compile time, and Cargo does not otherwise know to look there
//! (a new migration file would silently be missing from the binary).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

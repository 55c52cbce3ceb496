//! `sqlx::migrate!` embeds the migrations at build time but can't tell cargo (on stable) to
//! rebuild when a migration is added: this does, for both engines' folders.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

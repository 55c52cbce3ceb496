//! The storage handle, ids and clock.

use std::sync::Arc;

/// The storage the server talks to: whichever engine `TALK_DATABASE_URL` names, behind
/// [`crate::store::Store`]; cheap to clone.
pub type Db = Arc<dyn crate::store::Store>;

/// Opens (creating if missing, for SQLite) and migrates the database the URL names.
pub async fn connect(database_url: &str) -> Result<Db, crate::store::StoreError> {
    crate::store::connect(database_url).await
}

/// 12 random bytes as 24 lowercase hex chars (the shape of Ortto's person ids).
pub fn new_id() -> String {
    random_hex(12)
}

pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut buffer);
    hex::encode(buffer)
}

pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    since_epoch.as_millis() as i64
}

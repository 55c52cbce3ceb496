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

/// A message's id: [`new_id`]'s shape (24 hex chars), led by the time in milliseconds (6
/// bytes) before 6 random bytes. Messages are inserted in time order, so their id index
/// grows at its end and a batch dirties one or two of its leaf pages instead of one per
/// message: each dirty page is a 4 KiB write to SQLite's WAL (and PostgreSQL's).
pub fn new_message_id() -> String {
    let mut bytes = [0u8; 12];
    bytes[..6].copy_from_slice(&now_ms().to_be_bytes()[2..]);
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes[6..]);
    hex::encode(bytes)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_have_the_id_shape_and_sort_by_time() {
        let first = new_message_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_message_id();
        for id in [&first, &second] {
            assert_eq!(id.len(), 24);
            assert!(id.bytes().all(|byte| byte.is_ascii_hexdigit()));
        }
        assert!(first < second, "{first} then {second}");
        assert_ne!(first[12..], second[12..]);
    }
}

//! Ids made in the browser.

/// A message's idempotency key: a version 7 UUID (RFC 9562), the time in milliseconds
/// first, then random bits. Time first, the server's unique index of a conversation's keys
/// grows at its end instead of dirtying a random page of it per message (issue 19: about a
/// third of the store's page writes). `getRandomValues` rather than `randomUUID`, which only
/// exists on https pages.
pub fn uuid_v7() -> String {
    let mut random = [0u8; 10];
    if let Some(crypto) = web_sys::window().and_then(|window| window.crypto().ok()) {
        let _ = crypto.get_random_values_with_u8_array(&mut random);
    }
    uuid_v7_from(js_sys::Date::now() as u64, random)
}

/// The version 7 UUID of `unix_ms` and `random`, in its hyphenated lowercase form.
fn uuid_v7_from(unix_ms: u64, random: [u8; 10]) -> String {
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&random);
    bytes[6] = (bytes[6] & 0x0f) | 0x70;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(36);
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(HEX[usize::from(byte >> 4)] as char);
        text.push(HEX[usize::from(byte & 0x0f)] as char);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::uuid_v7_from;

    #[test]
    fn a_version_7_uuid_leads_with_its_time() {
        let id = uuid_v7_from(0x0190_1234_5678, [0xff; 10]);
        assert_eq!(id, "01901234-5678-7fff-bfff-ffffffffffff");
        let zero = uuid_v7_from(0, [0; 10]);
        assert_eq!(zero, "00000000-0000-7000-8000-000000000000");
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let earlier = uuid_v7_from(1_765_000_000_000, [0xff; 10]);
        let later = uuid_v7_from(1_765_000_000_001, [0; 10]);
        assert!(earlier < later);
    }
}

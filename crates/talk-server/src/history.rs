//! Pages of a conversation's history, bounded in messages and in bytes, for every replay:
//! `resume` and `load_before` (socket and HTTP) and the SSE stream's catch-up. An unbounded
//! answer would not fit the socket's write buffer (the socket dropped without a close code)
//! and would sit whole in memory while a slow client reads it.

use crate::conversations;
use crate::db::Db;
use talk_protocol::{Message, MAX_PAGE_BYTES, MAX_PAGE_SIZE};

/// Messages after a position, oldest first.
pub struct Page {
    pub messages: Vec<Message>,
    /// Messages after the last one exist: ask again from there.
    pub more: bool,
}

/// Rows read by a page's first query; each further query reads twice as many. Large
/// messages fill a page from the first few rows, small ones take a few queries, and none
/// reads a full `MAX_PAGE_SIZE` of 16 KiB bodies only to keep eight of them.
const FIRST_BATCH: usize = 16;

/// The oldest messages after `after_seq` that fit one page.
pub async fn after(
    db: &Db,
    conversation_id: &str,
    after_seq: i64,
) -> Result<Page, crate::store::StoreError> {
    let mut page = Filling::new(MAX_PAGE_SIZE as usize);
    let mut batch = FIRST_BATCH;
    loop {
        let from = page
            .messages
            .last()
            .map_or(after_seq, |message| message.seq);
        // One row past a full page tells whether anything follows it.
        let want = batch.min(page.room() + 1);
        let rows = conversations::messages_after(db, conversation_id, from, want as u32).await?;
        let fetched = rows.len();
        for message in rows {
            if !page.take(message) {
                return Ok(Page {
                    messages: page.messages,
                    more: true,
                });
            }
        }
        if fetched < want {
            return Ok(Page {
                messages: page.messages,
                more: false,
            });
        }
        batch *= 2;
    }
}

/// The newest messages before `before_seq` (all when `None`), at most `limit`, that fit one
/// page; in sequence order.
pub async fn before(
    db: &Db,
    conversation_id: &str,
    before_seq: Option<i64>,
    limit: u32,
) -> Result<Vec<Message>, crate::store::StoreError> {
    // Newest first while filling.
    let mut page = Filling::new(limit as usize);
    let mut batch = FIRST_BATCH;
    loop {
        let until = page
            .messages
            .last()
            .map(|message| message.seq)
            .or(before_seq);
        let want = batch.min(page.room());
        if want == 0 {
            break;
        }
        let rows = conversations::messages_before(db, conversation_id, until, want as u32).await?;
        let fetched = rows.len();
        if !rows.into_iter().rev().all(|message| page.take(message)) || fetched < want {
            break;
        }
        batch *= 2;
    }
    let mut messages = page.messages;
    messages.reverse();
    Ok(messages)
}

/// A page being filled: up to its count, and up to `MAX_PAGE_BYTES` of JSON except for its
/// first message, so a page always moves on (one message is at most 6 × `MAX_MESSAGE_BYTES`
/// of JSON, well under the socket's write buffer).
struct Filling {
    messages: Vec<Message>,
    bytes: usize,
    count: usize,
}

impl Filling {
    fn new(count: usize) -> Self {
        Filling {
            messages: Vec::new(),
            bytes: 0,
            count,
        }
    }

    fn room(&self) -> usize {
        self.count - self.messages.len()
    }

    /// Adds the message if it fits; false (and the page is done) if not.
    fn take(&mut self, message: Message) -> bool {
        let bytes = json_len(&message);
        let fits = self.bytes + bytes <= MAX_PAGE_BYTES || self.messages.is_empty();
        if self.room() == 0 || !fits {
            return false;
        }
        self.bytes += bytes;
        self.messages.push(message);
        true
    }
}

/// The length of the message's JSON, counted without building it.
fn json_len(message: &Message) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Serialising a plain struct into a counter cannot fail.
    let _ = serde_json::to_writer(&mut counter, message);
    counter.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use talk_protocol::{Author, AuthorKind};

    fn message(seq: i64, body_bytes: usize) -> Message {
        Message {
            id: format!("m{seq}"),
            conversation_id: "c".into(),
            seq,
            author: Author {
                kind: AuthorKind::Agent,
                name: None,
            },
            body: "x".repeat(body_bytes),
            client_msg_id: None,
            created_at: 1,
        }
    }

    #[test]
    fn a_page_stops_at_its_bounds_but_always_holds_one_message() {
        let mut page = Filling::new(MAX_PAGE_SIZE as usize);
        let mut seq = 0;
        while page.take(message(seq + 1, 16_000)) {
            seq += 1;
        }
        assert!(seq > 1 && seq < 17, "{seq}");
        assert!(page.bytes <= MAX_PAGE_BYTES, "{}", page.bytes);
        assert_eq!(
            json_len(&page.messages[0]),
            serde_json::to_vec(&page.messages[0]).unwrap().len()
        );
        // A message alone over the bound still goes, so paging never stalls.
        let mut alone = Filling::new(1);
        assert!(alone.take(message(1, MAX_PAGE_BYTES + 1)));
        // The count binds too.
        assert!(!alone.take(message(2, 1)));
    }
}

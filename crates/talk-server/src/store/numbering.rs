//! A batch of messages numbered in Rust, between PostgreSQL's statement that locks and reads
//! the batch's conversations and the one that inserts them all (issue 19: a batch in two
//! statements, whatever its size, instead of one per message). The rules are those of the
//! per-message statements: a message whose conversation is gone, or whose client id is taken
//! (stored, or earlier in the batch), is refused alone and uses no seq; a visitor's message
//! reopens a closed conversation. SQLite's writer numbers as it inserts instead
//! (`store/sqlite/writer.rs`, `Tails`): its unique index refuses a taken client id at the
//! insert, for free, where PostgreSQL would need a round trip per message.

use super::{constraint, Committed, StoreError, StoreResult};
use crate::conversations::NewMessage;
use std::collections::{HashMap, HashSet};

/// A conversation of the batch, as read under its lock.
pub(crate) struct Locked {
    pub workspace_id: String,
    pub last_seq: i64,
    pub status: String,
    /// Client message ids already stored among those of the batch.
    pub client_ids: HashSet<String>,
}

/// A conversation the batch wrote to: what its row becomes.
pub(crate) struct Touched {
    pub id: String,
    pub workspace_id: String,
    pub first_seq: i64,
    pub last_seq: i64,
    pub status: String,
}

pub(crate) struct Numbered {
    /// One per message of the batch, in its order.
    pub outcomes: Vec<StoreResult<Committed>>,
    /// In the order the batch first names them.
    pub touched: Vec<Touched>,
}

/// Numbers `batch` from `locked`. `refuse` may refuse a message for an engine's own reason
/// (PostgreSQL: a NUL character) before it is numbered.
pub(crate) fn number<'a>(
    mut locked: HashMap<String, Locked>,
    batch: impl IntoIterator<Item = (&'a str, &'a NewMessage)>,
    now: i64,
    refuse: impl Fn(&NewMessage) -> Option<StoreError>,
) -> Numbered {
    let mut outcomes = Vec::new();
    // Each conversation written to, in the order first named, with its first new seq.
    let mut first_seqs: Vec<(&'a str, i64)> = Vec::new();
    let mut seen: HashSet<&'a str> = HashSet::new();
    for (conversation_id, message) in batch {
        let outcome = match refuse(message) {
            Some(error) => Err(error),
            None => next(&mut locked, conversation_id, message, now),
        };
        if let Ok((message, _)) = &outcome {
            if seen.insert(conversation_id) {
                first_seqs.push((conversation_id, message.seq));
            }
        }
        outcomes.push(outcome);
    }
    let touched = first_seqs
        .into_iter()
        .map(|(id, first_seq)| {
            let conversation = &locked[id];
            Touched {
                id: id.to_string(),
                workspace_id: conversation.workspace_id.clone(),
                first_seq,
                last_seq: conversation.last_seq,
                status: conversation.status.clone(),
            }
        })
        .collect();
    Numbered { outcomes, touched }
}

/// Gives `message` the next seq of its locked conversation, or refuses it alone.
fn next(
    locked: &mut HashMap<String, Locked>,
    conversation_id: &str,
    message: &NewMessage,
    now: i64,
) -> StoreResult<Committed> {
    let conversation = locked
        .get_mut(conversation_id)
        .ok_or(StoreError::NotFound)?;
    if let Some(client_id) = &message.client_msg_id {
        if !conversation.client_ids.insert(client_id.clone()) {
            return Err(StoreError::Conflict {
                constraint: constraint::MESSAGE_CLIENT_ID.to_string(),
            });
        }
    }
    conversation.last_seq += 1;
    let reopened = message.reopens && conversation.status == "closed";
    if message.reopens {
        conversation.status = "open".to_string();
    }
    let message = message.clone().committed(
        crate::db::new_message_id(),
        conversation_id,
        conversation.last_seq,
        now,
    );
    Ok((message, reopened))
}

#[cfg(test)]
mod tests {
    use super::*;
    use talk_protocol::{Author, AuthorKind};

    fn message(client_msg_id: Option<&str>, reopens: bool) -> NewMessage {
        NewMessage {
            author: Author {
                kind: AuthorKind::Visitor,
                name: None,
            },
            body: "hi".to_string(),
            client_msg_id: client_msg_id.map(str::to_string),
            reopens,
            auto_reply: false,
        }
    }

    fn locked(last_seq: i64, status: &str, held: &[&str]) -> Locked {
        Locked {
            workspace_id: "w".to_string(),
            last_seq,
            status: status.to_string(),
            client_ids: held.iter().map(|id| id.to_string()).collect(),
        }
    }

    #[test]
    fn each_conversation_counts_on_and_a_refused_message_uses_no_seq() {
        let conversations = HashMap::from([
            ("a".to_string(), locked(4, "open", &["held"])),
            ("b".to_string(), locked(0, "closed", &[])),
        ]);
        let batch = [
            ("b", message(None, false)),
            ("a", message(Some("held"), true)),
            ("a", message(Some("x"), true)),
            ("gone", message(None, true)),
            ("a", message(Some("x"), true)),
            ("b", message(None, true)),
            ("a", message(None, true)),
        ];
        let numbered = number(
            conversations,
            batch.iter().map(|(id, message)| (*id, message)),
            7,
            |_| None,
        );
        let seq = |i: usize| numbered.outcomes[i].as_ref().ok().map(|(m, r)| (m.seq, *r));
        assert_eq!(seq(0), Some((1, false)), "an agent's reply doesn't reopen");
        assert!(matches!(
            numbered.outcomes[1],
            Err(StoreError::Conflict { .. })
        ));
        assert_eq!(seq(2), Some((5, false)));
        assert!(matches!(numbered.outcomes[3], Err(StoreError::NotFound)));
        assert!(
            matches!(numbered.outcomes[4], Err(StoreError::Conflict { .. })),
            "taken earlier in the batch"
        );
        assert_eq!(seq(5), Some((2, true)), "the visitor's message reopens");
        assert_eq!(seq(6), Some((6, false)));
        assert_eq!(numbered.outcomes.iter().filter(|o| o.is_ok()).count(), 4);
        let touched: Vec<_> = numbered
            .touched
            .iter()
            .map(|t| (t.id.as_str(), t.first_seq, t.last_seq, t.status.as_str()))
            .collect();
        assert_eq!(touched, [("b", 1, 2, "open"), ("a", 5, 6, "open")]);
    }

    #[test]
    fn an_engine_refusal_comes_first_and_uses_no_seq() {
        let conversations = HashMap::from([("a".to_string(), locked(0, "open", &[]))]);
        let mut refused = message(None, true);
        refused.body = "bad".to_string();
        let batch = [refused, message(None, true)];
        let numbered = number(
            conversations,
            batch.iter().map(|message| ("a", message)),
            0,
            |message| (message.body == "bad").then(|| StoreError::other("refused")),
        );
        assert!(numbered.outcomes[0].is_err());
        assert_eq!(numbered.outcomes[1].as_ref().unwrap().0.seq, 1);
    }
}

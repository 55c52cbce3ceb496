//! Store-level fixtures for the tests that talk to `talk_server::store::Store` directly.

use talk_server::conversations::{NewConversation, NewMessage};
use talk_server::db::{new_id, now_ms};
use talk_server::store::{SessionRecord, Store};

/// A widget session of `visitor` and an open conversation of it starting with `first`
/// (seq 1); answers the conversation's id.
pub async fn conversation_with(
    db: &dyn Store,
    workspace_id: &str,
    visitor: &str,
    first: NewMessage,
) -> String {
    db.upsert_visitor(workspace_id, visitor, now_ms())
        .await
        .unwrap();
    let session_id = new_id();
    db.insert_session(&SessionRecord {
        id: &session_id,
        workspace_id,
        visitor_id: Some(visitor),
        person_id: None,
        verified: false,
        kind: "widget",
        created_at: now_ms(),
        preview: false,
    })
    .await
    .unwrap();
    let id = new_id();
    let new = NewConversation {
        workspace_id: workspace_id.to_string(),
        visitor_id: visitor.to_string(),
        person_id: None,
        session_id,
        verified: false,
        bot_id: None,
        preview: false,
    };
    let first = db
        .create_conversation(&id, &new, first, 10, now_ms())
        .await
        .unwrap()
        .expect("under the cap");
    assert_eq!(first.seq, 1);
    id
}

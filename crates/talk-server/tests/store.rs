//! The store's contract, through `talk_server::store::Store` alone, on whichever engine the
//! tests run on (SQLite by default; PostgreSQL under `scripts/postgres.sh`, which sets
//! `TALK_TEST_DATABASE_URL`): what every backend must do the same.

mod common;

use common::store::conversation_with;
use common::test_app;
use futures_util::future::join_all;
use serde_json::json;
use std::sync::Arc;
use talk_protocol::{AgentRole, Author, AuthorKind, ConversationStatus, Presence};
use talk_server::conversations::{NewConversation, NewMessage, Viewer};
use talk_server::db::{new_id, now_ms};
use talk_server::people::{Claim, Person};
use talk_server::store::{
    self, constraint, AgentRecord, ApiKeyRecord, ConversationChange, PageViewRecord, PersonKey,
    SessionRecord, Store, StoreError,
};

fn message(body: &str, client_msg_id: Option<&str>) -> NewMessage {
    NewMessage {
        author: Author {
            kind: AuthorKind::Visitor,
            name: None,
        },
        body: body.to_string(),
        client_msg_id: client_msg_id.map(str::to_string),
        reopens: true,
        auto_reply: false,
    }
}

fn agent(email: &str) -> AgentRecord {
    AgentRecord {
        id: new_id(),
        email: email.to_string(),
        name: "Ann".to_string(),
        role: AgentRole::Agent,
        photo_url: None,
        password_hash: "hash".to_string(),
        created_at: now_ms(),
    }
}

/// A widget session and an open conversation (with one message) for `visitor`.
async fn conversation(db: &dyn Store, workspace_id: &str, visitor: &str) -> String {
    conversation_with(db, workspace_id, visitor, message("hello", None)).await
}

async fn seqs(db: &dyn Store, conversation_id: &str) -> Vec<i64> {
    db.messages_after(conversation_id, 0, 1000)
        .await
        .unwrap()
        .iter()
        .map(|message| message.seq)
        .collect()
}

#[tokio::test]
async fn the_backend_is_the_one_asked_for() {
    let app = test_app().await;
    let expected = if app.state.settings.database_url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(app.state.db.backend(), expected);
    let refused = store::connect("mysql://localhost/talk").await;
    assert!(matches!(refused, Err(StoreError::Other(_))));
}

#[tokio::test]
async fn workspaces_and_api_keys() {
    let app = test_app().await;
    let db = &*app.state.db;
    let ws = &app.workspace.workspace_id;
    assert_eq!(db.count_workspaces().await.unwrap(), 1);
    let found = db
        .workspace_by_capture_key(&app.workspace.capture_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&found.id, ws);
    assert_eq!(db.oldest_workspace().await.unwrap().unwrap().id, *ws);
    assert!(db.workspace_by_id("nope").await.unwrap().is_none());

    db.set_allowed_origins(ws, r#"["https://a.example"]"#)
        .await
        .unwrap();
    db.set_names_required(ws, true).await.unwrap();
    let found = db.workspace_by_id(ws).await.unwrap().unwrap();
    assert_eq!(found.allowed_origins(), ["https://a.example"]);
    assert!(found.names_required);

    let key = ApiKeyRecord {
        id: new_id(),
        key_hash: "hash-1".into(),
        prefix: Some("abcd1234".into()),
        created_at: now_ms(),
    };
    db.insert_api_key(ws, &key).await.unwrap();
    let again = db
        .insert_api_key(
            ws,
            &ApiKeyRecord {
                id: new_id(),
                ..key.clone()
            },
        )
        .await;
    assert!(
        matches!(&again, Err(StoreError::Conflict { constraint }) if constraint == constraint::API_KEY_HASH),
        "{again:?}"
    );
    assert_eq!(
        db.api_key_holder("hash-1")
            .await
            .unwrap()
            .map(|holder| holder.workspace_id)
            .as_deref(),
        Some(ws.as_str())
    );
    assert!(db.revoke_api_key_by_id(ws, &key.id, 5).await.unwrap());
    assert!(db.revoke_api_key_by_id(ws, &key.id, 9).await.unwrap());
    assert!(!db.revoke_api_key_by_id(ws, "nope", 9).await.unwrap());
    let listed = db.list_api_keys(ws).await.unwrap();
    let revoked = listed.iter().find(|info| info.id == key.id).unwrap();
    assert_eq!(revoked.revoked_at, Some(5), "the first revocation stays");
    assert!(db.api_key_holder("hash-1").await.unwrap().is_none());

    assert_eq!(db.widget_settings("nope").await.unwrap(), None);
    db.save_widget_settings(ws, "{\"x\":1}", false)
        .await
        .unwrap();
    assert_eq!(
        db.widget_settings(ws).await.unwrap(),
        Some((Some("{\"x\":1}".to_string()), false))
    );
}

#[tokio::test]
async fn signing_keys_rotate_and_retire() {
    let app = test_app().await;
    let db = &*app.state.db;
    let ws = &app.workspace.workspace_id;
    let first = db.active_signing_key(ws).await.unwrap().unwrap();
    // Within the same millisecond as the first: still strictly newer.
    assert!(db.add_signing_key(ws, "k2", "secret", 0).await.unwrap());
    assert!(!db.add_signing_key("nope", "k3", "secret", 0).await.unwrap());
    assert_eq!(db.active_signing_key(ws).await.unwrap().unwrap().kid, "k2");
    db.retire_signing_key(&first.kid, 7).await.unwrap();
    assert_eq!(
        db.signing_key(&first.kid)
            .await
            .unwrap()
            .unwrap()
            .retired_at,
        Some(7)
    );
    let retired = db
        .retired_signing_keys(&[first.kid.clone(), "k2".into(), "unknown".into()])
        .await
        .unwrap();
    assert_eq!(retired, [first.kid]);
    assert!(db.retired_signing_keys(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn agents_and_their_sessions() {
    let app = test_app().await;
    let db = &*app.state.db;
    let ws = &app.workspace.workspace_id;
    let ann = agent("ann@example.com");
    db.insert_agent(ws, &ann).await.unwrap();
    let twice = db
        .insert_agent(
            ws,
            &AgentRecord {
                id: new_id(),
                ..ann.clone()
            },
        )
        .await;
    assert!(
        matches!(&twice, Err(StoreError::Conflict { constraint }) if constraint == constraint::AGENT_EMAIL),
        "{twice:?}"
    );
    assert_eq!(
        db.agent_by_id(ws, &ann.id).await.unwrap().unwrap().email,
        ann.email
    );
    assert!(db.agent_by_id("other", &ann.id).await.unwrap().is_none());
    assert_eq!(
        db.list_agents(ws).await.unwrap().len(),
        2,
        "the admin and Ann"
    );

    assert!(!db.any_agent_online(ws).await.unwrap());
    db.set_presence(&ann.id, Presence::Online).await.unwrap();
    assert!(db.any_agent_online(ws).await.unwrap());
    assert_eq!(db.online_agents(ws).await.unwrap()[0].name, "Ann");

    let candidates = db.login_candidates("ann@example.com", None).await.unwrap();
    assert_eq!(
        candidates,
        [(ann.id.clone(), ws.clone(), "hash".to_string())]
    );
    assert!(db
        .login_candidates("ann@example.com", Some("other"))
        .await
        .unwrap()
        .is_empty());

    db.insert_agent_session("h1", &ann.id, 1, 100)
        .await
        .unwrap();
    assert_eq!(
        db.agent_session("h1").await.unwrap(),
        Some((ann.id.clone(), 100))
    );
    db.extend_agent_session("h1", 200).await.unwrap();
    assert_eq!(
        db.agent_session("h1").await.unwrap(),
        Some((ann.id.clone(), 200))
    );
    assert!(db.reset_agent_password(ws, &ann.id, "new").await.unwrap());
    assert_eq!(
        db.agent_session("h1").await.unwrap(),
        None,
        "a reset ends sessions"
    );
    assert!(!db.reset_agent_password(ws, "nope", "new").await.unwrap());

    db.insert_agent_session("h2", &ann.id, 1, 100)
        .await
        .unwrap();
    assert!(db.delete_agent(ws, &ann.id).await.unwrap());
    assert_eq!(
        db.agent_session("h2").await.unwrap(),
        None,
        "sessions go with the agent"
    );
    assert!(!db.delete_agent(ws, &ann.id).await.unwrap());
}

#[tokio::test]
async fn people_are_found_by_merge_fields() {
    let app = test_app().await;
    let db = &*app.state.db;
    let ws = &app.workspace.workspace_id;
    let fields = json!({"str::email": "Ann@Example.com", "str::first": " Ann ", "int::seats": 3,
                        "bool::trial": true});
    let ann = Person {
        id: new_id(),
        fields: fields.as_object().unwrap().clone(),
        created_at: 1,
        last_seen_ip: None,
    };
    assert!(db
        .insert_person(ws, &ann, "ann@example.com", 1)
        .await
        .unwrap());
    let copy = Person {
        id: new_id(),
        ..ann.clone()
    };
    assert!(
        !db.insert_person(ws, &copy, "ann@example.com", 2)
            .await
            .unwrap(),
        "email taken"
    );

    let find = |keys: Vec<PersonKey>| async move { db.find_person(ws, &keys).await.unwrap() };
    let by_email = find(vec![PersonKey::Email("ann@example.com".into())]).await;
    assert_eq!(by_email.unwrap().id, ann.id);
    let by_text = find(vec![PersonKey::Text {
        name: "str::first".into(),
        value: "Ann".into(),
    }])
    .await;
    assert_eq!(by_text.unwrap().id, ann.id, "text compared trimmed");
    let by_int = find(vec![PersonKey::Exact {
        name: "int::seats".into(),
        json: "3".into(),
    }])
    .await;
    assert_eq!(by_int.unwrap().id, ann.id);
    let by_bool = find(vec![PersonKey::Exact {
        name: "bool::trial".into(),
        json: "true".into(),
    }])
    .await;
    assert_eq!(by_bool.unwrap().id, ann.id);
    let both = find(vec![
        PersonKey::Email("ann@example.com".into()),
        PersonKey::Exact {
            name: "int::seats".into(),
            json: "4".into(),
        },
    ])
    .await;
    assert!(both.is_none(), "every key must match");
    assert!(find(vec![]).await.is_none());

    let bob = Person {
        id: new_id(),
        fields: Default::default(),
        created_at: 2,
        last_seen_ip: None,
    };
    assert!(db
        .insert_person(ws, &bob, "bob@example.com", 2)
        .await
        .unwrap());
    let clash = db.save_person(ws, &bob, "ann@example.com", 3).await;
    assert!(
        matches!(&clash, Err(StoreError::Conflict { constraint }) if constraint == constraint::PERSON_EMAIL),
        "{clash:?}"
    );

    db.record_source_ip(ws, &ann.id, "203.0.113.9", 5)
        .await
        .unwrap();
    let stored = db
        .person_by_email(ws, "ann@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.last_seen_ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(stored.fields, ann.fields);

    // Visitors: a claim, a link, page views reaching the person through the visitor.
    db.upsert_visitor(ws, "v1", 1).await.unwrap();
    db.upsert_visitor(ws, "v1", 2).await.unwrap();
    assert!(db.visitor_identity(ws, "v2").await.unwrap().is_none());
    let claim = Claim {
        email: "ann@example.com".into(),
        first_name: Some("A".into()),
        last_name: None,
    };
    db.record_claim(ws, "v1", &ann.id, &claim).await.unwrap();
    let identity = db.visitor_identity(ws, "v1").await.unwrap().unwrap();
    assert_eq!(
        (identity.person_id.as_deref(), identity.claim),
        (Some(ann.id.as_str()), Some(claim))
    );
    let view = |url| PageViewRecord {
        url,
        title: None,
        referrer: None,
        created_at: 10,
    };
    db.record_page_view(ws, "v1", &view("https://a.example/1"))
        .await
        .unwrap();
    db.upsert_visitor(ws, "v2", 1).await.unwrap();
    db.record_page_view(ws, "v2", &view("https://a.example/2"))
        .await
        .unwrap();
    assert_eq!(
        db.page_views_for_person(ws, &ann.id).await.unwrap().len(),
        1
    );
    assert_eq!(
        db.page_views_for_conversation(ws, "v2", None)
            .await
            .unwrap()
            .len(),
        1
    );
    db.link_visitor(ws, "v2", &ann.id).await.unwrap();
    assert_eq!(
        db.page_views_for_person(ws, &ann.id).await.unwrap().len(),
        2
    );
}

#[tokio::test]
async fn a_batch_numbers_its_messages_and_refuses_each_bad_one_alone() {
    let app = test_app().await;
    let db = &*app.state.db;
    let ws = &app.workspace.workspace_id;
    let a = conversation(db, ws, "va").await;
    let b = conversation(db, ws, "vb").await;
    let outcomes = db
        .append_messages(vec![
            (b.clone(), message("b1", Some("x"))),
            (a.clone(), message("a1", Some("x"))),
            ("missing".into(), message("lost", None)),
            (a.clone(), message("a-again", Some("x"))),
            (a.clone(), message("a2", None)),
            (b.clone(), message("b2", None)),
            (a.clone(), message("nul\0", None)),
        ])
        .await
        .unwrap();
    let seq = |i: usize| outcomes[i].as_ref().map(|(message, _)| message.seq).ok();
    assert_eq!(seq(0), Some(2));
    assert_eq!(seq(1), Some(2));
    assert!(
        matches!(outcomes[2], Err(StoreError::NotFound)),
        "{:?}",
        outcomes[2]
    );
    assert!(
        matches!(&outcomes[3], Err(StoreError::Conflict { constraint }) if constraint == constraint::MESSAGE_CLIENT_ID),
        "{:?}",
        outcomes[3]
    );
    assert_eq!(seq(4), Some(3), "the refused resend used no seq");
    assert_eq!(seq(5), Some(3));
    // SQLite stores a NUL; PostgreSQL refuses it alone. Either way the others committed.
    let a_seqs = seqs(db, &a).await;
    assert!(a_seqs == [1, 2, 3] || a_seqs == [1, 2, 3, 4], "{a_seqs:?}");
    assert_eq!(seqs(db, &b).await, [1, 2, 3]);
    let found = db.message_by_client_id(&a, "x").await.unwrap().unwrap();
    assert_eq!(found.body, "a1");
    let by_visitor = db
        .visitor_message_by_client_id(ws, "vb", "x")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_visitor.body, "b1");
    let conversation = db.find_conversation(ws, &b).await.unwrap().unwrap();
    assert_eq!(conversation.last_seq, 3);
}

/// PostgreSQL: a batch reads which client ids its conversations hold in the statement that
/// waits for their locks, so a resend that the lock's holder (another node) commits meanwhile
/// is not among them. It must still be refused alone, and the rest stored without a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_committed_while_a_batch_waits_for_its_lock_is_refused_alone() {
    let app = test_app().await;
    let url = app.state.settings.database_url.clone();
    if !url.starts_with("postgres") {
        eprintln!(
            "skipped: SQLite has one writer, so no batch waits (run under scripts/postgres.sh)"
        );
        return;
    }
    let db = app.state.db.clone();
    let ws = &app.workspace.workspace_id;
    let c = conversation(&*db, ws, "v").await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    // The other node: holds the conversation's lock while it stores the first try of "x".
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE")
        .bind(&c)
        .execute(&mut *holder)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, seq, author_kind, body, client_msg_id, created_at)
         VALUES ($1, $2, 2, 'visitor', 'first try', 'x', 0)",
    )
    .bind(new_id())
    .bind(&c)
    .execute(&mut *holder)
    .await
    .unwrap();
    sqlx::query("UPDATE conversations SET last_seq = 2 WHERE id = $1")
        .bind(&c)
        .execute(&mut *holder)
        .await
        .unwrap();
    let batch = tokio::spawn({
        let (db, c) = (db.clone(), c.clone());
        async move {
            db.append_messages(vec![
                (c.clone(), message("resend", Some("x"))),
                (c, message("next", Some("y"))),
            ])
            .await
            .unwrap()
        }
    });
    // Commit only once the batch waits for the lock.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the batch never waited for the lock"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    holder.commit().await.unwrap();
    let outcomes = batch.await.unwrap();
    assert!(
        matches!(&outcomes[0], Err(StoreError::Conflict { constraint }) if constraint == constraint::MESSAGE_CLIENT_ID),
        "{:?}",
        outcomes[0]
    );
    assert_eq!(outcomes[1].as_ref().unwrap().0.seq, 3);
    assert_eq!(seqs(&*db, &c).await, [1, 2, 3]);
    let stored = db.message_by_client_id(&c, "x").await.unwrap().unwrap();
    assert_eq!(stored.body, "first try");
}

#[tokio::test]
async fn a_visitor_message_reopens_a_closed_conversation_in_its_commit() {
    let app = test_app().await;
    let db = &*app.state.db;
    let ws = &app.workspace.workspace_id;
    let c = conversation(db, ws, "v").await;
    let close = ConversationChange::Status(ConversationStatus::Closed);
    assert!(db.update_conversation(ws, &c, &close, 1).await.unwrap());
    assert!(
        !db.update_conversation(ws, &c, &close, 2).await.unwrap(),
        "already closed"
    );
    let mut agent_reply = message("agent", None);
    agent_reply.reopens = false;
    let outcomes = db
        .append_messages(vec![
            (c.clone(), agent_reply),
            (c.clone(), message("back", None)),
            (c.clone(), message("still here", None)),
        ])
        .await
        .unwrap();
    assert!(
        !outcomes[0].as_ref().unwrap().1,
        "an agent's reply doesn't reopen"
    );
    assert!(
        outcomes[1].as_ref().unwrap().1,
        "the visitor's message reopened it"
    );
    assert!(
        !outcomes[2].as_ref().unwrap().1,
        "the next found it open: reopened once"
    );
    let now = db.find_conversation(ws, &c).await.unwrap().unwrap();
    assert_eq!((now.status, now.last_seq), (ConversationStatus::Open, 4));
}

#[tokio::test]
async fn conversation_changes_apply_only_when_they_change_something() {
    let app = test_app().await;
    let db = &*app.state.db;
    let ws = &app.workspace.workspace_id;
    let c = conversation(db, ws, "v").await;
    let admin = db.list_agents(ws).await.unwrap().remove(0);
    let assign = ConversationChange::Assignee(Some(admin.id.clone()));
    assert!(db.update_conversation(ws, &c, &assign, 1).await.unwrap());
    assert!(!db.update_conversation(ws, &c, &assign, 1).await.unwrap());
    let unassign = ConversationChange::Assignee(None);
    assert!(db.update_conversation(ws, &c, &unassign, 1).await.unwrap());
    assert!(!db.update_conversation(ws, &c, &unassign, 1).await.unwrap());
    assert!(db
        .update_conversation(ws, &c, &ConversationChange::AgentRead(1), 1)
        .await
        .unwrap());
    assert!(
        !db.update_conversation(ws, &c, &ConversationChange::AgentRead(0), 1)
            .await
            .unwrap(),
        "a read position never goes back"
    );
    assert!(
        !db.update_conversation("other", &c, &assign, 1)
            .await
            .unwrap(),
        "other workspace"
    );
    let viewer = Viewer {
        workspace_id: ws.clone(),
        visitor_id: "v".into(),
        verified_person_id: None,
    };
    let seen = db
        .find_visible_conversation(&viewer, &c)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.agent_read_seq, 1);
    assert_eq!(db.visible_conversations(&viewer).await.unwrap().len(), 1);
    let stranger = Viewer {
        visitor_id: "w".into(),
        ..viewer
    };
    assert!(db
        .find_visible_conversation(&stranger, &c)
        .await
        .unwrap()
        .is_none());
    assert_eq!(db.list_conversations(ws).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_open_conversation_cap_holds_under_concurrent_starts() {
    let app = test_app().await;
    let db = app.state.db.clone();
    let ws = app.workspace.workspace_id.clone();
    db.upsert_visitor(&ws, "v", 1).await.unwrap();
    let session_id = new_id();
    db.insert_session(&SessionRecord {
        id: &session_id,
        workspace_id: &ws,
        visitor_id: Some("v"),
        person_id: None,
        verified: false,
        kind: "widget",
        created_at: 1,
        preview: false,
    })
    .await
    .unwrap();
    let starts = (0..8).map(|n| {
        let (db, ws, session_id) = (db.clone(), ws.clone(), session_id.clone());
        tokio::spawn(async move {
            let new = NewConversation {
                workspace_id: ws,
                visitor_id: "v".into(),
                person_id: None,
                session_id,
                verified: false,
                bot_id: None,
                preview: false,
            };
            db.create_conversation(
                &new_id(),
                &new,
                message(&format!("m{n}"), None),
                3,
                now_ms(),
            )
            .await
            .unwrap()
        })
    });
    let started = join_all(starts)
        .await
        .into_iter()
        .filter(|joined| joined.as_ref().unwrap().is_some())
        .count();
    assert_eq!(started, 3);
}

/// Two stores on one database stand for two nodes: their writers interleave on one
/// conversation, yet every acknowledged message has its own seq and no seq is skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_appending_to_one_conversation_leave_no_gap() {
    let app = test_app().await;
    let ws = &app.workspace.workspace_id;
    let node_a: Arc<dyn Store> = app.state.db.clone();
    let node_b = store::connect(&app.state.settings.database_url)
        .await
        .unwrap();
    let c = conversation(&*node_a, ws, "v").await;
    let batches = (0..20).map(|n| {
        let node = if n % 2 == 0 {
            node_a.clone()
        } else {
            node_b.clone()
        };
        let c = c.clone();
        tokio::spawn(async move {
            let batch = (0..5)
                .map(|i| {
                    (
                        c.clone(),
                        message(&format!("{n}-{i}"), Some(&format!("{n}-{i}"))),
                    )
                })
                .collect();
            node.append_messages(batch).await.unwrap()
        })
    });
    let mut acknowledged: Vec<i64> = join_all(batches)
        .await
        .into_iter()
        .flat_map(|joined| joined.unwrap())
        .map(|outcome| outcome.unwrap().0.seq)
        .collect();
    acknowledged.sort_unstable();
    let expected: Vec<i64> = (2..=101).collect();
    assert_eq!(acknowledged, expected);
    assert_eq!(seqs(&*node_b, &c).await, (1..=101).collect::<Vec<_>>());
}

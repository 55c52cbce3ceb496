//! Conversation state, paging, typing, read receipts, the per-visitor topic and the heartbeat,
//! over real WebSockets against a real server.

mod common;

use axum::http::{Method, StatusCode};
use common::live::*;
use common::visitor_id;
use futures_util::StreamExt;
use serde_json::json;
use std::time::Duration;
use talk_protocol::{Author, AuthorKind, ConversationStatus, Message, ServerEvent};
use tokio_tungstenite::tungstenite::Message as Frame;

const MSG_1: &str = "7a1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1a01";
const MSG_2: &str = "7a1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1a02";

/// An identified visitor with one conversation, open in two tabs.
async fn conversation_in_two_tabs(server: &Server) -> (Ws, Ws, Message) {
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let (mut tab_one, _) = server.open(&visitor, None).await;
    let first = ack(send_message(&mut tab_one, None, MSG_1, "Hello").await);
    let (tab_two, _) = server.open(&visitor, None).await;
    (tab_one, tab_two, first)
}

#[tokio::test]
async fn agent_closes_reopens_and_assigns_and_every_tab_hears() {
    let server = start().await;
    let (mut tab_one, mut tab_two, first) = conversation_in_two_tabs(&server).await;
    let uri = |action: &str| format!("/v1/conversations/{}/{action}", first.conversation_id);

    let closed = server
        .agent_call(Method::POST, &uri("close"), None, StatusCode::OK)
        .await;
    assert_eq!(closed["status"], "closed");
    for tab in [&mut tab_one, &mut tab_two] {
        let heard = conversation_updated(next_event(tab).await);
        assert_eq!(
            (heard.id.as_str(), heard.status),
            (first.conversation_id.as_str(), ConversationStatus::Closed)
        );
    }
    // Closing again changes nothing and publishes nothing.
    server
        .agent_call(Method::POST, &uri("close"), None, StatusCode::OK)
        .await;
    assert_quiet(&mut tab_one).await;

    // A visitor writing into a closed conversation reopens it, for every tab.
    let reply = ack(send_message(&mut tab_one, Some(&first.conversation_id), MSG_2, "Back").await);
    assert_eq!(
        conversation_updated(next_event(&mut tab_one).await).status,
        ConversationStatus::Open
    );
    assert_eq!(
        next_event(&mut tab_two).await,
        ServerEvent::Message { message: reply }
    );
    assert_eq!(
        conversation_updated(next_event(&mut tab_two).await).status,
        ConversationStatus::Open
    );
    let listed = server.agent_conversations().await;
    assert_eq!(listed[0].status, ConversationStatus::Open);

    server
        .agent_call(Method::POST, &uri("close"), None, StatusCode::OK)
        .await;
    let reopened = server
        .agent_call(Method::POST, &uri("reopen"), None, StatusCode::OK)
        .await;
    assert_eq!(reopened["status"], "open");
    let statuses = [
        conversation_updated(next_event(&mut tab_two).await).status,
        conversation_updated(next_event(&mut tab_two).await).status,
    ];
    assert_eq!(
        statuses,
        [ConversationStatus::Closed, ConversationStatus::Open]
    );

    let admin = admin_agent_id(&server.app).await;
    let assigned = server
        .agent_call(
            Method::POST,
            &uri("assign"),
            Some(json!({"agent_id": admin})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(assigned["assignee_id"], admin.as_str());
    assert_eq!(
        conversation_updated(next_event(&mut tab_two).await)
            .assignee_id
            .as_deref(),
        Some(admin.as_str())
    );
    let unassigned = server
        .agent_call(
            Method::POST,
            &uri("assign"),
            Some(json!({"agent_id": null})),
            StatusCode::OK,
        )
        .await;
    assert!(unassigned.get("assignee_id").is_none(), "{unassigned}");
    assert_eq!(
        conversation_updated(next_event(&mut tab_two).await).assignee_id,
        None
    );

    // An agent of another workspace is unknown here.
    let other = talk_server::create_workspace(&server.app.state.db, "Other")
        .await
        .unwrap();
    let foreign_agent = server
        .app
        .sql
        .string(
            "SELECT id FROM agents WHERE workspace_id = $1",
            &[(&other.workspace_id).into()],
        )
        .await;
    for agent_id in [foreign_agent.as_str(), "nobody"] {
        let refused = server
            .app
            .agent(
                Method::POST,
                &uri("assign"),
                Some(json!({"agent_id": agent_id})),
            )
            .await;
        assert_eq!(
            (refused.status, refused.code().as_str()),
            (StatusCode::BAD_REQUEST, "unknown_agent")
        );
    }
    assert_quiet(&mut tab_two).await;

    for action in ["close", "reopen", "assign", "typing", "read"] {
        let unknown = server
            .app
            .agent(
                Method::POST,
                &format!("/v1/conversations/000000000000000000000000/{action}"),
                Some(json!({"agent_id": null, "typing": true, "up_to_seq": 0})),
            )
            .await;
        assert_eq!(
            (unknown.status, unknown.code().as_str()),
            (StatusCode::NOT_FOUND, "conversation_not_found"),
            "{action}"
        );
        let keyless = server
            .app
            .send(Method::POST, &uri(action), &[], Some(json!({})))
            .await;
        assert_eq!(keyless.code(), "missing_api_key", "{action}");
    }
}

#[tokio::test]
async fn messages_page_newest_first_in_ascending_order() {
    let server = start().await;
    let (_tab_one, _tab_two, first) = conversation_in_two_tabs(&server).await;
    for n in 2..=5 {
        server
            .agent_reply(&first.conversation_id, &format!("Reply {n}"))
            .await;
    }
    let seqs = |messages: &serde_json::Value| -> Vec<i64> {
        messages["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|message| message["seq"].as_i64().unwrap())
            .collect()
    };
    let uri = format!("/v1/conversations/{}/messages", first.conversation_id);
    let page = |query: &str| format!("{uri}?{query}");
    for (query, expected) in [
        ("", vec![1, 2, 3, 4, 5]),
        ("limit=2", vec![4, 5]),
        ("before_seq=4&limit=2", vec![2, 3]),
        ("before_seq=2&limit=2", vec![1]),
        ("before_seq=1", vec![]),
        ("limit=200", vec![1, 2, 3, 4, 5]),
    ] {
        let listed = server
            .agent_call(Method::GET, &page(query), None, StatusCode::OK)
            .await;
        assert_eq!(seqs(&listed), expected, "{query}");
    }
    for query in [
        "limit=0",
        "limit=201",
        "before_seq=0",
        "limit=abc",
        "before_seq=-3",
    ] {
        let refused = server.app.agent(Method::GET, &page(query), None).await;
        assert_eq!(
            (refused.status, refused.code().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_paging"),
            "{query}"
        );
    }

    // The visitor's socket pages the same way (a fresh tab: the others got the replies live).
    let (mut tab_one, _) = server.open(&visitor_id(1), None).await;
    send(
        &mut tab_one,
        json!({"type": "load_before", "conversation_id": first.conversation_id, "before_seq": 4, "limit": 2}),
    )
    .await;
    match next_event(&mut tab_one).await {
        ServerEvent::History {
            conversation_id,
            messages,
            ..
        } => {
            assert_eq!(conversation_id, first.conversation_id);
            let seqs: Vec<i64> = messages.iter().map(|message| message.seq).collect();
            assert_eq!(seqs, [2, 3]);
        }
        other => panic!("expected history, got {other:?}"),
    }
    send(
        &mut tab_one,
        json!({"type": "load_before", "conversation_id": first.conversation_id, "limit": 500}),
    )
    .await;
    assert_eq!(
        error_code(next_event(&mut tab_one).await).0,
        "invalid_paging"
    );

    // Another visitor can't page through it.
    let stranger = visitor_id(2);
    let (mut other, _) = server.open(&stranger, None).await;
    send(
        &mut other,
        json!({"type": "load_before", "conversation_id": first.conversation_id}),
    )
    .await;
    assert_eq!(
        error_code(next_event(&mut other).await).0,
        "conversation_not_found"
    );
}

#[tokio::test]
async fn typing_reaches_the_others_at_most_once_per_second() {
    let server = start().await;
    let (mut tab_one, mut tab_two, first) = conversation_in_two_tabs(&server).await;
    let typing = |typing: bool| json!({"type": "typing", "conversation_id": first.conversation_id, "typing": typing});
    let ann = Author {
        kind: AuthorKind::Visitor,
        name: Some("Ann".into()),
    };

    send(&mut tab_one, typing(true)).await;
    assert_eq!(
        next_event(&mut tab_two).await,
        ServerEvent::Typing {
            conversation_id: first.conversation_id.clone(),
            author: ann.clone(),
            typing: true
        }
    );
    // Not echoed to the sender.
    assert_quiet(&mut tab_one).await;

    // A second one within the second is dropped: the read receipt sent after it comes first.
    send(&mut tab_one, typing(false)).await;
    send(
        &mut tab_one,
        json!({"type": "read", "conversation_id": first.conversation_id, "up_to_seq": 1}),
    )
    .await;
    assert!(matches!(
        next_event(&mut tab_two).await,
        ServerEvent::Read { .. }
    ));

    tokio::time::sleep(Duration::from_millis(1100)).await;
    send(&mut tab_one, typing(false)).await;
    assert_eq!(
        next_event(&mut tab_two).await,
        ServerEvent::Typing {
            conversation_id: first.conversation_id.clone(),
            author: ann,
            typing: false
        }
    );

    // Agents type through the API; every tab hears it.
    let uri = format!("/v1/conversations/{}/typing", first.conversation_id);
    server
        .agent_call(
            Method::POST,
            &uri,
            Some(json!({"typing": true, "agent_name": "Sam"})),
            StatusCode::NO_CONTENT,
        )
        .await;
    for tab in [&mut tab_one, &mut tab_two] {
        assert_eq!(
            next_event(tab).await,
            ServerEvent::Typing {
                conversation_id: first.conversation_id.clone(),
                author: Author {
                    kind: AuthorKind::Agent,
                    name: Some("Sam".into())
                },
                typing: true
            }
        );
    }
    let refused = server
        .app
        .agent(Method::POST, &uri, Some(json!({"typing": "yes"})))
        .await;
    assert_eq!(refused.code(), "invalid_json");

    // A fresh session (its own budget) typing into a conversation it can't see.
    let (mut stranger, _) = server.open(&visitor_id(2), None).await;
    send(&mut stranger, typing(true)).await;
    assert_eq!(
        error_code(next_event(&mut stranger).await).0,
        "conversation_not_found"
    );
    assert_quiet(&mut tab_two).await;
}

#[tokio::test]
async fn read_receipts_go_both_ways_and_never_decrease() {
    let server = start().await;
    let (mut tab_one, mut tab_two, first) = conversation_in_two_tabs(&server).await;
    server.agent_reply(&first.conversation_id, "Hi Ann").await;
    for tab in [&mut tab_one, &mut tab_two] {
        assert!(matches!(next_event(tab).await, ServerEvent::Message { .. }));
    }
    let read = |up_to_seq: i64| json!({"type": "read", "conversation_id": first.conversation_id, "up_to_seq": up_to_seq});

    send(&mut tab_one, read(2)).await;
    assert_eq!(
        next_event(&mut tab_two).await,
        ServerEvent::Read {
            conversation_id: first.conversation_id.clone(),
            reader: AuthorKind::Visitor,
            up_to_seq: 2
        }
    );
    assert_quiet(&mut tab_one).await;
    // Going back is ignored, silently.
    send(&mut tab_one, read(1)).await;
    assert_quiet(&mut tab_one).await;
    assert_quiet(&mut tab_two).await;
    send(&mut tab_one, read(3)).await;
    assert_eq!(error_code(next_event(&mut tab_one).await).0, "invalid_seq");
    assert_eq!(server.agent_conversations().await[0].visitor_read_seq, 2);

    let uri = format!("/v1/conversations/{}/read", first.conversation_id);
    let answered = server
        .agent_call(
            Method::POST,
            &uri,
            Some(json!({"up_to_seq": 2})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        (
            answered["agent_read_seq"].as_i64(),
            answered["visitor_read_seq"].as_i64()
        ),
        (Some(2), Some(2))
    );
    for tab in [&mut tab_one, &mut tab_two] {
        assert_eq!(
            next_event(tab).await,
            ServerEvent::Read {
                conversation_id: first.conversation_id.clone(),
                reader: AuthorKind::Agent,
                up_to_seq: 2
            }
        );
    }
    let answered = server
        .agent_call(
            Method::POST,
            &uri,
            Some(json!({"up_to_seq": 1})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(answered["agent_read_seq"], 2);
    assert_quiet(&mut tab_two).await;
    for up_to_seq in [3, -1] {
        let refused = server
            .app
            .agent(Method::POST, &uri, Some(json!({"up_to_seq": up_to_seq})))
            .await;
        assert_eq!(
            (refused.status, refused.code().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_seq")
        );
    }
}

#[tokio::test]
async fn a_conversation_started_in_one_tab_reaches_the_others() {
    let server = start().await;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let (mut tab_one, none) = server.open(&visitor, None).await;
    assert!(none.is_empty());
    let (mut tab_two, _) = server.open(&visitor, None).await;
    server.identify(&visitor_id(2), "bob@example.com").await;
    let (mut stranger, _) = server.open(&visitor_id(2), None).await;

    let first = ack(send_message(&mut tab_one, None, MSG_1, "Hello").await);
    let announced = conversation_updated(next_event(&mut tab_two).await);
    assert_eq!(
        (announced.id.as_str(), announced.last_seq),
        (first.conversation_id.as_str(), 1)
    );
    assert_eq!(
        next_event(&mut tab_two).await,
        ServerEvent::Message {
            message: first.clone()
        }
    );
    // The other tab subscribed: later events of the conversation reach it.
    let reply = server.agent_reply(&first.conversation_id, "Hi").await;
    for tab in [&mut tab_one, &mut tab_two] {
        assert_eq!(
            next_event(tab).await,
            ServerEvent::Message {
                message: reply.clone()
            }
        );
    }
    assert_quiet(&mut tab_one).await;
    assert_quiet(&mut stranger).await;
}

#[tokio::test]
async fn verified_conversations_reach_the_person_elsewhere_but_not_an_email_claim() {
    let server = start().await;
    let minted = server
        .app
        .talk_session(json!({"fields": {"str::email": "ann@example.com", "str::name": "Ann"}}))
        .await
        .json();
    let token = minted["token"].as_str().unwrap();
    let (mut laptop, _) = server.open(&visitor_id(1), Some(token)).await;
    let (mut phone, _) = server.open(&visitor_id(2), Some(token)).await;
    // Same email, typed into a widget: known, not verified.
    server.identify(&visitor_id(3), "ann@example.com").await;
    let (mut claimant, _) = server.open(&visitor_id(3), None).await;

    let first = ack(send_message(&mut laptop, None, MSG_1, "Verified hello").await);
    assert!(conversation_updated(next_event(&mut phone).await).verified);
    assert_eq!(
        next_event(&mut phone).await,
        ServerEvent::Message { message: first }
    );
    assert_quiet(&mut claimant).await;
}

#[tokio::test]
async fn idle_socket_is_pinged_at_the_configured_interval() {
    let server = start_with(|settings| settings.heartbeat_secs = 1).await;
    let (mut ws, _) = server.open(&visitor_id(1), None).await;
    let frame = tokio::time::timeout(Duration::from_secs(3), ws.next())
        .await
        .expect("a frame within 3 s")
        .unwrap()
        .unwrap();
    assert!(matches!(frame, Frame::Ping(_)), "{frame:?}");
}

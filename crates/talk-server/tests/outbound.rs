//! Conversations agents start (`talk_server::outbound`): an agent writes first to a known
//! person, with an API key or from the inbox. Which of the person's visitors gets it, who
//! else may see it, live delivery to the visitor and the agents, the errors, the bound and
//! idempotency; over real sockets on a real database (SQLite, or PostgreSQL under
//! `scripts/postgres.sh`).

mod common;

use axum::http::{Method, StatusCode};
use common::live::*;
use common::{visitor_id, Answer, TestApp};
use serde_json::{json, Value};
use talk_protocol::{
    AuthorKind, Conversation, ConversationStatus, Message, ServerEvent, StartedConversation,
    MAX_OPEN_CONVERSATIONS_PER_VISITOR,
};

const MSG_1: &str = "0b6a6f55-3c1e-4d0a-9b5e-6c7f1a2b3c01";
const MSG_2: &str = "0b6a6f55-3c1e-4d0a-9b5e-6c7f1a2b3c02";
const MSG_3: &str = "0b6a6f55-3c1e-4d0a-9b5e-6c7f1a2b3c03";

fn start_uri(person_id: &str) -> String {
    format!("/v1/people/{person_id}/conversations")
}

/// `POST /v1/people/{id}/conversations` with the workspace's API key.
async fn start_with_key(app: &TestApp, person_id: &str, body: Value) -> Answer {
    app.agent(Method::POST, &start_uri(person_id), Some(body))
        .await
}

fn started(answer: &Answer) -> StartedConversation {
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    serde_json::from_str(&answer.text).unwrap()
}

/// The person a visitor is linked to (by the email form or a verified session).
async fn person_of(app: &TestApp, visitor: &str) -> String {
    app.sql
        .string(
            "SELECT person_id FROM visitors WHERE workspace_id = $1 AND id = $2",
            &[(&app.workspace.workspace_id).into(), visitor.into()],
        )
        .await
}

/// Dates every widget session of the visitor at `at` (ms): which visitor was seen last is
/// decided by the test, not by the clock's resolution.
async fn seen_at(app: &TestApp, visitor: &str, at: i64) {
    app.sql
        .execute(
            "UPDATE sessions SET created_at = $1 WHERE workspace_id = $2 AND visitor_id = $3",
            &[
                at.into(),
                (&app.workspace.workspace_id).into(),
                visitor.into(),
            ],
        )
        .await;
}

/// A verified-session token for the person with this email: (person id, token).
async fn verified_token(app: &TestApp, email: &str) -> (String, String) {
    let minted = app
        .talk_session(json!({"fields": {"str::email": email, "str::name": "Vera Real"}}))
        .await;
    assert_eq!(minted.status, StatusCode::OK, "{}", minted.text);
    let minted = minted.json();
    (
        minted["person_id"].as_str().unwrap().to_string(),
        minted["token"].as_str().unwrap().to_string(),
    )
}

async fn conversations_in_db(app: &TestApp) -> i64 {
    app.sql
        .i64(
            "SELECT COUNT(*) FROM conversations WHERE workspace_id = $1",
            &[(&app.workspace.workspace_id).into()],
        )
        .await
}

fn listed<'a>(conversations: &'a [Conversation], id: &str) -> Option<&'a Conversation> {
    conversations.iter().find(|c| c.id == id)
}

/// Resumes a conversation on the socket: its messages, or the error code.
async fn resume(ws: &mut Ws, conversation_id: &str) -> Result<Vec<Message>, String> {
    send(
        ws,
        json!({"type": "resume", "conversation_id": conversation_id, "after_seq": 0}),
    )
    .await;
    match next_event(ws).await {
        ServerEvent::History { messages, .. } => Ok(messages),
        ServerEvent::Error { code, .. } => Err(code),
        other => panic!("expected history or an error, got {other:?}"),
    }
}

fn message_of(event: ServerEvent) -> Message {
    match event {
        ServerEvent::Message { message } => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn an_agent_writes_first_to_a_visitor_who_gave_the_email_and_it_is_listed_unread() {
    let server = start().await;
    let app = &server.app;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let person = person_of(app, &visitor).await;

    let answer = start_with_key(
        app,
        &person,
        json!({"body": "  We have news for you  ", "client_msg_id": MSG_1, "agent_name": "Sam"}),
    )
    .await;
    let StartedConversation {
        conversation,
        message,
    } = started(&answer);
    assert_eq!(conversation.person_id.as_deref(), Some(person.as_str()));
    assert_eq!(conversation.visitor_id, visitor);
    assert!(
        !conversation.verified,
        "the person never proved who they are"
    );
    assert_eq!(conversation.status, ConversationStatus::Open);
    assert_eq!(conversation.last_seq, 1);
    assert_eq!(conversation.visitor_read_seq, 0, "unread for the visitor");
    assert_eq!(conversation.agent_read_seq, 1, "the agents wrote it");
    assert_eq!(conversation.assignee_id, None);
    assert_eq!(message.conversation_id, conversation.id);
    assert_eq!(message.seq, 1);
    assert_eq!(message.author.kind, AuthorKind::Agent);
    assert_eq!(message.author.name.as_deref(), Some("Sam"));
    assert_eq!(message.body, "We have news for you");
    assert_eq!(message.client_msg_id.as_deref(), Some(MSG_1));

    // The next time the visitor is on the site: listed, unread, readable.
    let (mut ws, conversations) = server.open(&visitor, None).await;
    let shown = listed(&conversations, &conversation.id).expect("ready lists it");
    assert_eq!((shown.last_seq, shown.visitor_read_seq), (1, 0));
    assert_eq!(resume(&mut ws, &conversation.id).await, Ok(vec![message]));

    // Filed under the visitor's widget session (the one the person was seen in).
    let session_visitor = app
        .sql
        .string(
            "SELECT s.visitor_id FROM conversations c JOIN sessions s ON s.id = c.session_id
             WHERE c.id = $1",
            &[(&conversation.id).into()],
        )
        .await;
    assert_eq!(session_visitor, visitor);
}

#[tokio::test]
async fn from_the_inbox_the_writing_agent_is_the_author_and_the_assignee() {
    let server = start().await;
    let app = &server.app;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let person = person_of(app, &visitor).await;
    let cookie = app.admin_cookie().await;
    let me = app
        .as_agent(&cookie, Method::GET, "/v1/agent/me", None)
        .await
        .json();
    let origin = app.state.settings.public_origin();
    let uri = format!("/v1/agent/people/{person}/conversations");

    let answer = app
        .send(
            Method::POST,
            &uri,
            &[("cookie", &cookie), ("origin", &origin)],
            // A signed-in agent writes under its own name, whatever the body says.
            Some(json!({"body": "Hello Ann", "client_msg_id": MSG_1, "agent_name": "Not me"})),
        )
        .await;
    let StartedConversation {
        conversation,
        message,
    } = started(&answer);
    assert_eq!(message.author.name, me["name"].as_str().map(str::to_string));
    assert_eq!(
        conversation.assignee_id,
        me["id"].as_str().map(str::to_string)
    );

    // The inbox lists it under "assigned to me", read, with the contact the visitor typed.
    let mine = app
        .as_agent(
            &cookie,
            Method::GET,
            "/v1/agent/conversations?assigned=me",
            None,
        )
        .await
        .json();
    let row = &mine["conversations"][0];
    assert_eq!(row["id"], json!(conversation.id));
    assert_eq!(row["unread"], json!(0));
    assert_eq!(row["contact_email"], json!("ann@example.com"));
    assert_eq!(row["last_message"]["body"], json!("Hello Ann"));

    // The cookie is required, and from the inbox's own origin.
    let anonymous = app
        .send(Method::POST, &uri, &[], Some(json!({"body": "Hi"})))
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let elsewhere = app
        .send(
            Method::POST,
            &uri,
            &[("cookie", &cookie), ("origin", "https://evil.example")],
            Some(json!({"body": "Hi"})),
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
    assert_eq!(elsewhere.code(), "cross_origin_request");
    assert_eq!(conversations_in_db(app).await, 1);
}

/// The person verified on two devices; a stranger typed the person's email on a third, and
/// was seen last. The conversation goes to the newest verified device, verified: the other
/// verified device sees it through the person, the stranger (and the person's device when
/// not verified) doesn't.
#[tokio::test]
async fn a_verified_person_gets_it_on_every_verified_device_and_a_stranger_who_typed_the_email_never_does(
) {
    let server = start().await;
    let app = &server.app;
    let (person, token) = verified_token(app, "vera@example.com").await;
    let (phone, laptop, stranger) = (visitor_id(1), visitor_id(2), visitor_id(3));
    app.session_token(&phone, Some(&token)).await;
    app.session_token(&laptop, Some(&token)).await;
    server.identify(&stranger, "vera@example.com").await;
    assert_eq!(
        person_of(app, &stranger).await,
        person,
        "linked by the claim"
    );
    seen_at(app, &phone, 1_000).await;
    seen_at(app, &laptop, 2_000).await;
    seen_at(app, &stranger, 3_000).await;

    let StartedConversation { conversation, .. } =
        started(&start_with_key(app, &person, json!({"body": "Your order shipped"})).await);
    assert_eq!(
        conversation.visitor_id, laptop,
        "the newest verified device"
    );
    assert!(conversation.verified);

    // The laptop, verified or not (its own visitor id), and the phone, verified.
    for (visitor, token) in [
        (&laptop, Some(token.as_str())),
        (&laptop, None),
        (&phone, Some(token.as_str())),
    ] {
        let (mut ws, conversations) = server.open(visitor, token).await;
        assert!(
            listed(&conversations, &conversation.id).is_some(),
            "{visitor} (verified: {})",
            token.is_some()
        );
        assert!(resume(&mut ws, &conversation.id).await.is_ok());
    }
    // The stranger who typed the email, and the phone without its token: not listed, and
    // not readable by id either.
    for visitor in [&stranger, &phone] {
        let (mut ws, conversations) = server.open(visitor, None).await;
        assert!(
            listed(&conversations, &conversation.id).is_none(),
            "{visitor}"
        );
        assert_eq!(
            resume(&mut ws, &conversation.id).await,
            Err("conversation_not_found".to_string())
        );
    }
}

/// Nobody proved who the person is: the conversation goes to whoever typed the email last,
/// unverified, and no other visitor sees it, not even a verified session of the person
/// created after it.
#[tokio::test]
async fn an_unverified_person_gets_it_on_the_visitor_seen_last_only() {
    let server = start().await;
    let app = &server.app;
    let (first, second) = (visitor_id(1), visitor_id(2));
    server.identify(&first, "una@example.com").await;
    server.identify(&second, "una@example.com").await;
    seen_at(app, &first, 2_000).await;
    seen_at(app, &second, 1_000).await;
    let person = person_of(app, &first).await;

    let StartedConversation { conversation, .. } =
        started(&start_with_key(app, &person, json!({"body": "Hi Una"})).await);
    assert_eq!(conversation.visitor_id, first);
    assert!(!conversation.verified);

    let (_, seen_by_second) = server.open(&second, None).await;
    assert!(listed(&seen_by_second, &conversation.id).is_none());
    // The person's backend verifies a session later, on a third device.
    let (verified_person, token) = verified_token(app, "una@example.com").await;
    assert_eq!(verified_person, person);
    let (_, seen_verified) = server.open(&visitor_id(3), Some(&token)).await;
    assert!(listed(&seen_verified, &conversation.id).is_none());
    let (_, seen_by_first) = server.open(&first, None).await;
    assert!(listed(&seen_by_first, &conversation.id).is_some());
}

#[tokio::test]
async fn the_visitor_on_the_site_gets_it_live_and_so_do_the_agents() {
    let server = start().await;
    let app = &server.app;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let person = person_of(app, &visitor).await;
    let (mut on_site, listed_before) = server.open(&visitor, None).await;
    assert!(listed_before.is_empty());
    let mut agents = server.agent_socket(&app.admin_cookie().await).await;

    let StartedConversation {
        conversation,
        message,
    } = started(
        &start_with_key(
            app,
            &person,
            json!({"body": "Need a hand?", "client_msg_id": MSG_1}),
        )
        .await,
    );

    // The visitor's socket: the conversation, then its message.
    for ws in [&mut on_site, &mut agents] {
        assert_eq!(conversation_updated(next_event(ws).await), conversation);
        assert_eq!(message_of(next_event(ws).await), message);
    }
    // Announced on its viewer topic, the socket is subscribed: later replies arrive too.
    let reply = server.agent_reply(&conversation.id, "Just ask").await;
    assert_eq!(message_of(next_event(&mut on_site).await), reply);
    // The visitor answers in it.
    let answer = ack(send_message(&mut on_site, Some(&conversation.id), MSG_2, "Yes!").await);
    assert_eq!(
        (answer.conversation_id.as_str(), answer.seq),
        (conversation.id.as_str(), 3)
    );
    assert_quiet(&mut on_site).await;
}

#[tokio::test]
async fn a_verified_persons_sessions_elsewhere_get_it_live_and_a_stranger_on_the_site_does_not() {
    let server = start().await;
    let app = &server.app;
    let (person, token) = verified_token(app, "vera@example.com").await;
    let (laptop, phone, stranger) = (visitor_id(1), visitor_id(2), visitor_id(3));
    app.session_token(&laptop, Some(&token)).await;
    seen_at(app, &laptop, 1_000).await;
    server.identify(&stranger, "vera@example.com").await;
    // On the site now: the phone in a verified session, the stranger.
    let (mut phone_ws, _) = server.open(&phone, Some(&token)).await;
    let (mut stranger_ws, _) = server.open(&stranger, None).await;
    // The phone's session is the newest verified one: it is the recipient. Make the
    // laptop's newer, so the phone hears of it through the person only.
    seen_at(app, &laptop, i64::MAX / 2).await;

    let StartedConversation {
        conversation,
        message,
    } = started(&start_with_key(app, &person, json!({"body": "Your invoice"})).await);
    assert_eq!(conversation.visitor_id, laptop);
    assert_eq!(
        conversation_updated(next_event(&mut phone_ws).await),
        conversation
    );
    assert_eq!(message_of(next_event(&mut phone_ws).await), message);
    assert_quiet(&mut stranger_ws).await;
}

#[tokio::test]
async fn a_resend_under_the_same_client_msg_id_starts_nothing_new() {
    let server = start().await;
    let app = &server.app;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let person = person_of(app, &visitor).await;
    let body = json!({"body": "Once", "client_msg_id": MSG_1});

    // Two at once (a double click), then one more later.
    let (one, two) = tokio::join!(
        start_with_key(app, &person, body.clone()),
        start_with_key(app, &person, body.clone())
    );
    let (one, two) = (started(&one), started(&two));
    assert_eq!(one.conversation.id, two.conversation.id);
    assert_eq!(one.message, two.message);
    let (mut on_site, _) = server.open(&visitor, None).await;
    let again = started(&start_with_key(app, &person, body).await);
    assert_eq!(again.message, one.message);
    assert_quiet(&mut on_site).await;
    assert_eq!(conversations_in_db(app).await, 1);

    // Another id is another conversation; none is one each time.
    started(
        &start_with_key(
            app,
            &person,
            json!({"body": "Twice", "client_msg_id": MSG_2}),
        )
        .await,
    );
    started(&start_with_key(app, &person, json!({"body": "No id"})).await);
    started(&start_with_key(app, &person, json!({"body": "No id"})).await);
    assert_eq!(conversations_in_db(app).await, 4);
}

#[tokio::test]
async fn refusals_name_what_is_wrong() {
    let server = start().await;
    let app = &server.app;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let person = person_of(app, &visitor).await;
    let too_long = "x".repeat(talk_protocol::MAX_MESSAGE_BYTES + 1);
    let cases = [
        (
            json!({"body": "  "}),
            StatusCode::BAD_REQUEST,
            "empty_message",
        ),
        (
            json!({"body": too_long}),
            StatusCode::BAD_REQUEST,
            "message_too_long",
        ),
        (
            json!({"body": "Hi", "client_msg_id": "not-a-uuid"}),
            StatusCode::BAD_REQUEST,
            "invalid_client_msg_id",
        ),
        (
            json!({"text": "Hi"}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
    ];
    for (body, status, code) in cases {
        let answer = start_with_key(app, &person, body).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (status, code),
            "{code}"
        );
    }

    let unknown = start_with_key(app, "nobody", json!({"body": "Hi"})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.code(), "person_not_found");

    // Known to the site's backend only: never on the site with the widget.
    let (backend_only, _) = verified_token(app, "never@example.com").await;
    let never = start_with_key(app, &backend_only, json!({"body": "Hi"})).await;
    assert_eq!(never.status, StatusCode::CONFLICT);
    assert_eq!(never.code(), "person_never_seen");

    // A visitor that has typed someone else's email since is that one's now.
    let moved = visitor_id(2);
    server.identify(&moved, "old@example.com").await;
    let old = person_of(app, &moved).await;
    server.identify(&moved, "new@example.com").await;
    let gone = start_with_key(app, &old, json!({"body": "Hi"})).await;
    assert_eq!(gone.code(), "person_never_seen");

    let no_key = app
        .send(
            Method::POST,
            &start_uri(&person),
            &[],
            Some(json!({"body": "Hi"})),
        )
        .await;
    assert_eq!(no_key.status, StatusCode::UNAUTHORIZED);
    // Another workspace's key doesn't know the person.
    let other = talk_server::create_workspace(&app.state.db, "Other")
        .await
        .unwrap();
    let foreign = app
        .send(
            Method::POST,
            &start_uri(&person),
            &[("x-api-key", &other.api_key)],
            Some(json!({"body": "Hi"})),
        )
        .await;
    assert_eq!(foreign.code(), "person_not_found");
    assert_eq!(conversations_in_db(app).await, 0, "nothing was started");
}

/// The recipient's widget lists at most `MAX_OPEN_CONVERSATIONS_PER_VISITOR` open
/// conversations, whoever started them; a closed one frees a place.
#[tokio::test]
async fn the_open_conversations_bound_holds_for_agents_too() {
    let server = start().await;
    let app = &server.app;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let person = person_of(app, &visitor).await;
    let (mut ws, _) = server.open(&visitor, None).await;
    let own = ack(send_message(&mut ws, None, MSG_3, "My own").await);
    drop(ws);
    for n in 1..MAX_OPEN_CONVERSATIONS_PER_VISITOR {
        started(&start_with_key(app, &person, json!({"body": format!("Number {n}")})).await);
    }
    let full = start_with_key(app, &person, json!({"body": "One more"})).await;
    assert_eq!(full.status, StatusCode::CONFLICT);
    assert_eq!(full.code(), "too_many_conversations");
    // Nor may the visitor start one now.
    let (mut ws, listed_now) = server.open(&visitor, None).await;
    assert_eq!(listed_now.len() as i64, MAX_OPEN_CONVERSATIONS_PER_VISITOR);
    let refused = send_message(&mut ws, None, MSG_1, "And mine").await;
    assert_eq!(error_code(refused).0, "too_many_conversations");

    server
        .agent_call(
            Method::POST,
            &format!("/v1/conversations/{}/close", own.conversation_id),
            None,
            StatusCode::OK,
        )
        .await;
    started(&start_with_key(app, &person, json!({"body": "Now it fits"})).await);
}

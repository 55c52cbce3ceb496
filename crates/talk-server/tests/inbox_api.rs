//! The inbox's server side: the agent socket (cookie at the upgrade, the workspace topic,
//! sends as the agent) over real sockets, and the cookie-authenticated conversation
//! endpoints.

mod common;

use axum::http::{Method, StatusCode};
use common::live::*;
use common::{session_cookie, visitor_id};
use serde_json::json;
use talk_protocol::{AuthorKind, ConversationStatus, InboxConversationList, Message, ServerEvent};
use tokio_tungstenite::tungstenite;

const MSG_1: &str = "7a1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1b01";
const MSG_2: &str = "7a1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1b02";
const AGENT_MSG: &str = "7a1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1b03";

/// An identified visitor's socket and the first message it sent.
async fn visitor_with_conversation(server: &Server, n: u8, email: &str) -> (Ws, Message) {
    let visitor = visitor_id(n);
    server.identify(&visitor, email).await;
    let (mut ws, _) = server.open(&visitor, None).await;
    let client_msg_id = format!("7a1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1c{n:02}");
    let first = ack(send_message(&mut ws, None, &client_msg_id, "Hello").await);
    (ws, first)
}

fn message(event: ServerEvent) -> Message {
    match event {
        ServerEvent::Message { message } => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn agent_socket_hears_the_workspace_and_writes_as_the_agent() {
    let server = start().await;
    let cookie = server.app.admin_cookie().await;
    let mut inbox = server.agent_socket(&cookie).await;

    // A new conversation appears live: its state, then its first message.
    let visitor_id = visitor_id(1);
    server.identify(&visitor_id, "ann@example.com").await;
    let (mut visitor, _) = server.open(&visitor_id, None).await;
    let first = ack(send_message(&mut visitor, None, MSG_1, "Hello").await);
    let started = conversation_updated(next_event(&mut inbox).await);
    assert_eq!(started.id, first.conversation_id);
    assert_eq!(message(next_event(&mut inbox).await), first);

    // The agent answers over its socket under its own name; the visitor hears it.
    let reply = serde_json::json!({"type": "send", "conversation_id": first.conversation_id,
                                   "client_msg_id": AGENT_MSG, "body": "Hi Ann"});
    send(&mut inbox, reply.clone()).await;
    let sent = ack(next_event(&mut inbox).await);
    assert_eq!(
        (
            sent.author.kind,
            sent.author.name.as_deref(),
            sent.body.as_str()
        ),
        (AuthorKind::Agent, Some("Admin"), "Hi Ann")
    );
    assert_eq!(message(next_event(&mut visitor).await), sent);
    // A resend is acknowledged with the same message and published nowhere.
    send(&mut inbox, reply).await;
    assert_eq!(ack(next_event(&mut inbox).await), sent);
    assert_quiet(&mut visitor).await;
    assert_quiet(&mut inbox).await;

    // The visitor's next message, typing and read receipt reach the agent, and back.
    let second =
        ack(send_message(&mut visitor, Some(&first.conversation_id), MSG_2, "Thanks").await);
    assert_eq!(message(next_event(&mut inbox).await), second);
    let conversation_id = first.conversation_id.clone();
    send(
        &mut visitor,
        json!({"type": "typing", "conversation_id": conversation_id, "typing": true}),
    )
    .await;
    match next_event(&mut inbox).await {
        ServerEvent::Typing { author, typing, .. } => {
            assert_eq!((author.kind, typing), (AuthorKind::Visitor, true))
        }
        other => panic!("expected typing, got {other:?}"),
    }
    send(
        &mut inbox,
        json!({"type": "typing", "conversation_id": conversation_id, "typing": true}),
    )
    .await;
    match next_event(&mut visitor).await {
        ServerEvent::Typing { author, .. } => {
            assert_eq!(
                (author.kind, author.name.as_deref()),
                (AuthorKind::Agent, Some("Admin"))
            )
        }
        other => panic!("expected typing, got {other:?}"),
    }
    send(
        &mut inbox,
        json!({"type": "read", "conversation_id": conversation_id, "up_to_seq": second.seq}),
    )
    .await;
    assert_eq!(
        next_event(&mut visitor).await,
        ServerEvent::Read {
            conversation_id: conversation_id.clone(),
            reader: AuthorKind::Agent,
            up_to_seq: second.seq
        }
    );
    assert_eq!(
        server.agent_conversations().await[0].agent_read_seq,
        second.seq
    );

    // What the API-key endpoints publish reaches the inbox too.
    let api_reply = server.agent_reply(&conversation_id, "From the API").await;
    assert_eq!(message(next_event(&mut inbox).await), api_reply);
    server
        .agent_call(
            Method::POST,
            &format!("/v1/conversations/{conversation_id}/close"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        conversation_updated(next_event(&mut inbox).await).status,
        ConversationStatus::Closed
    );

    // An agent must name the conversation; it can't start one.
    send(
        &mut inbox,
        json!({"type": "send", "client_msg_id": MSG_1, "body": "Hello?"}),
    )
    .await;
    assert_eq!(
        error_code(next_event(&mut inbox).await),
        ("conversation_required".to_string(), Some(MSG_1.to_string()))
    );
}

#[tokio::test]
async fn agent_socket_stays_inside_its_workspace() {
    let server = start().await;
    let other = talk_server::create_workspace(&server.app.state.db, "Other")
        .await
        .unwrap();
    let other_cookie = server
        .app
        .sign_in(&other.admin_email, &other.admin_password)
        .await;
    let mut other_inbox = server.agent_socket(&other_cookie).await;
    let (_visitor, first) = visitor_with_conversation(&server, 1, "ann@example.com").await;
    assert_quiet(&mut other_inbox).await;
    send(
        &mut other_inbox,
        json!({"type": "send", "conversation_id": first.conversation_id,
               "client_msg_id": AGENT_MSG, "body": "Not yours"}),
    )
    .await;
    assert_eq!(
        error_code(next_event(&mut other_inbox).await).0,
        "conversation_not_found"
    );
    assert_eq!(
        server
            .agent_call(
                Method::GET,
                &format!("/v1/conversations/{}/messages", first.conversation_id),
                None,
                StatusCode::OK,
            )
            .await["messages"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

fn refused_status(error: tungstenite::Error) -> u16 {
    match error {
        tungstenite::Error::Http(response) => response.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

#[tokio::test]
async fn agent_socket_needs_the_cookie_and_our_origin_and_ends_with_the_session() {
    let server = start_with(|settings| settings.heartbeat_secs = 1).await;
    let cookie = server.app.admin_cookie().await;
    let origin = server.app.state.settings.public_origin();

    let without_cookie = server.connect_agent(&[("origin", &origin)]).await;
    assert_eq!(refused_status(without_cookie.err().unwrap()), 401);
    let unknown = server
        .connect_agent(&[("cookie", "talk_agent=nope"), ("origin", &origin)])
        .await;
    assert_eq!(refused_status(unknown.err().unwrap()), 401);
    // Another site's page would send the cookie along: its Origin gives it away.
    let elsewhere = server
        .connect_agent(&[("cookie", &cookie), ("origin", "https://evil.example.com")])
        .await;
    assert_eq!(refused_status(elsewhere.err().unwrap()), 403);

    let mut inbox = server.agent_socket(&cookie).await;
    let signed_out = server
        .app
        .as_agent(&cookie, Method::POST, "/v1/agent/logout", None)
        .await;
    assert_eq!(signed_out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        close_code_of(&mut inbox).await,
        talk_protocol::close_code::SIGNED_OUT
    );
}

#[tokio::test]
async fn inbox_list_is_newest_first_with_unread_counts_and_filters() {
    let server = start().await;
    let app = &server.app;
    let cookie = app.admin_cookie().await;
    let (_ann, ann_first) = visitor_with_conversation(&server, 1, "ann@example.com").await;
    let (mut bob, bob_first) = visitor_with_conversation(&server, 2, "bob@example.com").await;
    let list = |query: &'static str| {
        let cookie = cookie.clone();
        async move {
            let answer = app
                .as_agent(
                    &cookie,
                    Method::GET,
                    &format!("/v1/agent/conversations{query}"),
                    None,
                )
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
            serde_json::from_str::<InboxConversationList>(&answer.text)
                .unwrap()
                .conversations
        }
    };

    let all = list("").await;
    let ids: Vec<&str> = all.iter().map(|c| c.conversation.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            bob_first.conversation_id.as_str(),
            ann_first.conversation_id.as_str()
        ]
    );
    assert_eq!(all[0].unread, 1);
    assert_eq!(all[0].contact_email.as_deref(), Some("bob@example.com"));
    assert_eq!(all[1].contact_name.as_deref(), Some("Ann"));
    assert_eq!(all[1].last_message.as_ref(), Some(&ann_first));

    // Newest activity first: Ann writes again and moves up; reading clears the count.
    server
        .agent_reply(&ann_first.conversation_id, "Hello Ann")
        .await;
    let all = list("").await;
    assert_eq!(all[0].conversation.id, ann_first.conversation_id);
    assert_eq!(
        (
            all[0].unread,
            all[0].last_message.as_ref().unwrap().body.as_str()
        ),
        (2, "Hello Ann")
    );
    let read = app
        .as_agent(
            &cookie,
            Method::POST,
            &format!("/v1/agent/conversations/{}/read", ann_first.conversation_id),
            Some(json!({"up_to_seq": 2})),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(list("").await[0].unread, 0);

    // Filters: closed, assigned to me.
    let me = admin_agent_id(app).await;
    let uri = |action: &str| {
        format!(
            "/v1/agent/conversations/{}/{action}",
            bob_first.conversation_id
        )
    };
    app.as_agent(
        &cookie,
        Method::POST,
        &uri("assign"),
        Some(json!({"agent_id": me})),
    )
    .await;
    app.as_agent(&cookie, Method::POST, &uri("close"), None)
        .await;
    for (query, expected) in [
        ("?status=closed", &bob_first),
        ("?status=open", &ann_first),
        ("?assigned=me", &bob_first),
    ] {
        let found = list(query).await;
        assert_eq!(found.len(), 1, "{query}: {found:?}");
        assert_eq!(
            found[0].conversation.id, expected.conversation_id,
            "{query}"
        );
    }
    assert!(list("?status=open&assigned=me").await.is_empty());
    // The visitor, told of both changes, writes again and reopens it; the closed list empties.
    let closed = conversation_updated(next_event(&mut bob).await);
    assert_eq!(closed.assignee_id.as_deref(), Some(me.as_str()));
    assert_eq!(
        conversation_updated(next_event(&mut bob).await).status,
        ConversationStatus::Closed
    );
    ack(send_message(
        &mut bob,
        Some(&bob_first.conversation_id),
        MSG_2,
        "Still there?",
    )
    .await);
    assert!(list("?status=closed").await.is_empty());

    for query in ["?status=pending", "?assigned=you"] {
        let refused = app
            .as_agent(
                &cookie,
                Method::GET,
                &format!("/v1/agent/conversations{query}"),
                None,
            )
            .await;
        assert_eq!(
            (refused.status, refused.code().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_filter")
        );
    }
    let anonymous = app.get("/v1/agent/conversations").await;
    assert_eq!(
        (anonymous.status, anonymous.code().as_str()),
        (StatusCode::UNAUTHORIZED, "not_signed_in")
    );
}

#[tokio::test]
async fn cookie_conversation_endpoints_act_as_the_signed_in_agent() {
    let server = start().await;
    let app = &server.app;
    let cookie = app.admin_cookie().await;
    let (mut visitor, first) = visitor_with_conversation(&server, 1, "ann@example.com").await;
    app.track(
        &visitor_id(1),
        json!({"url": "https://shop.example.com/pricing"}),
    )
    .await;
    let uri = |action: &str| format!("/v1/agent/conversations/{}/{action}", first.conversation_id);
    let origin = app.state.settings.public_origin();
    let call = |method: Method, action: &'static str, body: Option<serde_json::Value>| {
        let (cookie, origin, uri) = (cookie.clone(), origin.clone(), uri(action));
        async move {
            app.send(
                method,
                &uri,
                &[("cookie", &cookie), ("origin", &origin)],
                body,
            )
            .await
        }
    };

    // A reply carries the agent's own name, whatever the body says.
    let replied = call(
        Method::POST,
        "messages",
        Some(json!({"body": "Hello from the inbox", "agent_name": "Someone else"})),
    )
    .await;
    assert_eq!(replied.status, StatusCode::CREATED, "{}", replied.text);
    assert_eq!(replied.json()["author"]["name"], "Admin");
    assert_eq!(
        message(next_event(&mut visitor).await).body,
        "Hello from the inbox"
    );
    let listed = call(Method::GET, "messages", None).await;
    assert_eq!(listed.json()["messages"].as_array().unwrap().len(), 2);

    let typing = call(Method::POST, "typing", Some(json!({"typing": true}))).await;
    assert_eq!(typing.status, StatusCode::NO_CONTENT);
    match next_event(&mut visitor).await {
        ServerEvent::Typing { author, .. } => assert_eq!(author.name.as_deref(), Some("Admin")),
        other => panic!("expected typing, got {other:?}"),
    }
    let closed = call(Method::POST, "close", None).await;
    assert_eq!(closed.json()["status"], "closed");
    assert_eq!(
        conversation_updated(next_event(&mut visitor).await).status,
        ConversationStatus::Closed
    );
    assert_eq!(
        call(Method::POST, "reopen", None).await.json()["status"],
        "open"
    );
    let me = admin_agent_id(app).await;
    let assigned = call(Method::POST, "assign", Some(json!({"agent_id": me}))).await;
    assert_eq!(assigned.json()["assignee_id"], me.as_str());
    let unknown = call(Method::POST, "assign", Some(json!({"agent_id": "nobody"}))).await;
    assert_eq!(unknown.code(), "unknown_agent");
    let read = call(Method::POST, "read", Some(json!({"up_to_seq": 2}))).await;
    assert_eq!(read.json()["agent_read_seq"], 2);

    let contact = call(Method::GET, "contact", None).await;
    assert_eq!(contact.status, StatusCode::OK, "{}", contact.text);
    let contact = contact.json();
    assert_eq!(contact["verified"], false);
    assert_eq!(contact["person"]["email"], "ann@example.com");
    assert_eq!(
        contact["current_page"]["url"],
        "https://shop.example.com/pricing"
    );

    // A page of another origin can't act with the cookie; no cookie, no access; another
    // workspace's agent doesn't find the conversation.
    let forged = app
        .send(
            Method::POST,
            &uri("close"),
            &[("cookie", &cookie), ("origin", "https://evil.example.com")],
            None,
        )
        .await;
    assert_eq!(
        (forged.status, forged.code().as_str()),
        (StatusCode::FORBIDDEN, "cross_origin_request")
    );
    let anonymous = app.send(Method::POST, &uri("close"), &[], None).await;
    assert_eq!(anonymous.code(), "not_signed_in");
    let other = talk_server::create_workspace(&app.state.db, "Other")
        .await
        .unwrap();
    let other_cookie =
        session_cookie(&app.login(&other.admin_email, &other.admin_password).await).unwrap();
    let hidden = app
        .as_agent(&other_cookie, Method::GET, &uri("contact"), None)
        .await;
    assert_eq!(
        (hidden.status, hidden.code().as_str()),
        (StatusCode::NOT_FOUND, "conversation_not_found")
    );
}

#[tokio::test]
async fn an_http_reply_resent_under_its_client_msg_id_is_stored_once() {
    let server = start().await;
    let app = &server.app;
    let cookie = app.admin_cookie().await;
    let (mut visitor, first) = visitor_with_conversation(&server, 1, "ann@example.com").await;
    let uri = format!("/v1/agent/conversations/{}/messages", first.conversation_id);
    let origin = app.state.settings.public_origin();
    let post = |body: serde_json::Value| {
        let (cookie, origin, uri) = (cookie.clone(), origin.clone(), uri.clone());
        async move {
            app.send(
                Method::POST,
                &uri,
                &[("cookie", &cookie), ("origin", &origin)],
                Some(body),
            )
            .await
        }
    };

    let reply = json!({"body": "Sent twice", "client_msg_id": AGENT_MSG});
    let stored = post(reply.clone()).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text);
    assert_eq!(stored.json()["client_msg_id"], AGENT_MSG);
    assert_eq!(message(next_event(&mut visitor).await).body, "Sent twice");

    // Its answer was lost: the inbox sends it again under the same id (over HTTP, or on
    // the socket once it is back). One message; the resend answers the stored one.
    let again = post(reply).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_eq!(again.json(), stored.json());
    let on_socket = json!({"type": "send", "conversation_id": first.conversation_id,
        "client_msg_id": AGENT_MSG, "body": "Sent twice"});
    let mut inbox = server.agent_socket(&cookie).await;
    send(&mut inbox, on_socket).await;
    let acked = ack(next_event(&mut inbox).await);
    assert_eq!(serde_json::to_value(acked).unwrap(), stored.json());
    assert_quiet(&mut visitor).await;
    let listed = app
        .send(
            Method::GET,
            &uri,
            &[("cookie", &cookie), ("origin", &origin)],
            None,
        )
        .await;
    let bodies: Vec<_> = listed.json()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies, ["Hello", "Sent twice"], "stored once");

    // A client id that is not a UUID is refused, as on the socket.
    let bad = post(json!({"body": "Hi", "client_msg_id": "not-a-uuid"})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.code(), "invalid_client_msg_id");
    assert_eq!(
        bad.json()["error"]["message"],
        "client_msg_id must be a UUID"
    );
    // Without one, as before: each post is a new message.
    let plain = post(json!({"body": "No id"})).await;
    assert_eq!(plain.status, StatusCode::CREATED);
    assert!(plain.json().get("client_msg_id").is_none());
}

#[tokio::test]
async fn inbox_pages_fall_back_to_index_with_a_fresh_nonce() {
    let built = tempfile::tempdir().unwrap();
    let inbox_dir = built.path().to_path_buf();
    let app = common::test_app_with(|settings| settings.inbox_dir = inbox_dir).await;
    let missing = app.get("/inbox/").await;
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (StatusCode::NOT_FOUND, "inbox_not_built")
    );

    std::fs::write(
        built.path().join("index.html"),
        r#"<script type="module" nonce="{{__TRUNK NONCE__}}">import "/inbox/app.js";</script>"#,
    )
    .unwrap();
    std::fs::write(built.path().join("app-0123.js"), "export {};").unwrap();
    let file = app.get("/inbox/app-0123.js").await;
    assert_eq!(
        (file.status, file.text.as_str()),
        (StatusCode::OK, "export {};")
    );
    for path in ["/inbox", "/inbox/", "/inbox/settings"] {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let nonce = page
            .text
            .split("nonce=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(nonce.len(), 32, "{path}: {}", page.text);
        let csp = page.header("content-security-policy");
        assert!(
            csp.contains(&format!("script-src 'nonce-{nonce}'")),
            "{csp}"
        );
    }
}

#[tokio::test]
async fn agent_conversations_are_paged() {
    let server = start().await;
    let app = &server.app;
    let cookie = app.admin_cookie().await;
    let mut firsts = Vec::new();
    for n in 1..=5 {
        let (_ws, first) =
            visitor_with_conversation(&server, n, &format!("v{n}@example.com")).await;
        firsts.push(first);
    }
    let page = |query: String| {
        let cookie = cookie.clone();
        async move {
            let answer = app
                .as_agent(
                    &cookie,
                    Method::GET,
                    &format!("/v1/agent/conversations?status=open{query}"),
                    None,
                )
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
            serde_json::from_str::<InboxConversationList>(&answer.text).unwrap()
        }
    };
    let ids = |list: &InboxConversationList| -> Vec<String> {
        list.conversations
            .iter()
            .map(|c| c.conversation.id.clone())
            .collect()
    };
    let whole = page(String::new()).await;
    assert_eq!(whole.conversations.len(), 5);
    assert_eq!(whole.next_cursor, None);

    // Two at a time, in the same order as the whole list, each page after the last.
    let first = page("&limit=2".into()).await;
    let cursor = first.next_cursor.clone().expect("more pages follow");
    let second = page(format!("&limit=2&cursor={cursor}")).await;
    let third = page(format!(
        "&limit=2&cursor={}",
        second.next_cursor.clone().unwrap()
    ))
    .await;
    assert_eq!(third.next_cursor, None);
    let paged: Vec<String> = [&first, &second, &third]
        .iter()
        .flat_map(|p| ids(p))
        .collect();
    assert_eq!(paged, ids(&whole));

    // Stable while conversations move: the oldest gets a reply and goes to the top; the
    // page after the first cursor still starts where the first page ended, no repeats.
    let oldest = &firsts[0].conversation_id;
    server.agent_reply(oldest, "Still there?").await;
    let again = page(format!("&limit=2&cursor={cursor}")).await;
    assert_eq!(ids(&again), ids(&second));
    assert_eq!(&ids(&page("&limit=1".into()).await)[0], oldest);

    // Bounded pages; a cursor is only what the list answered.
    for query in [
        "&limit=0",
        "&limit=101",
        "&limit=lots",
        "&cursor=nope",
        "&cursor=12.a%20b",
    ] {
        let answer = app
            .as_agent(
                &cookie,
                Method::GET,
                &format!("/v1/agent/conversations?status=open{query}"),
                None,
            )
            .await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_paging"),
            "{query}"
        );
    }
}

#[tokio::test]
async fn visitor_conversation_cap_is_enforced() {
    use talk_protocol::MAX_OPEN_CONVERSATIONS_PER_VISITOR as CAP;
    let server = start_with(|settings| settings.socket_messages_per_window = 0).await;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let (mut ws, _) = server.open(&visitor, None).await;
    let id = |n: i64| format!("7a1c1c8e-4a4c-4f0e-9a57-3f5d3c2b{n:04}");
    let mut started = Vec::new();
    for n in 0..CAP {
        started.push(ack(send_message(&mut ws, None, &id(n), "Hi").await));
    }

    // One more new conversation is refused, with the code the widget explains.
    let refused = send_message(&mut ws, None, &id(CAP), "Hi again").await;
    assert_eq!(
        error_code(refused),
        ("too_many_conversations".to_string(), Some(id(CAP)))
    );
    // Over HTTP too, and the open ones still take messages.
    let token = server.app.session_token(&visitor, None).await;
    let (status, body) = server
        .post_event(
            &token,
            json!({"type": "send", "client_msg_id": id(CAP + 1), "body": "Hi"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("too_many_conversations"))
    );
    let conversation_id = started[0].conversation_id.clone();
    ack(send_message(&mut ws, Some(&conversation_id), &id(CAP + 2), "More").await);
    assert_eq!(server.agent_conversations().await.len(), CAP as usize);

    // Closed ones don't count: closing one lets the visitor start another.
    server
        .agent_call(
            Method::POST,
            &format!("/v1/conversations/{conversation_id}/close"),
            None,
            StatusCode::OK,
        )
        .await;
    let _ = next_event(&mut ws).await; // conversation_updated: closed
    ack(send_message(&mut ws, None, &id(CAP + 3), "Hi").await);
}

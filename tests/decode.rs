//! The widget's decoders (`src/decode.rs`) against serde's wire format: every type is written
//! by its `Serialize` derive, as the server writes it, and must decode to the same value.
#![cfg(target_arch = "wasm32")]

use std::fmt::Debug;
use talk_protocol::{
    Appearance, Author, AuthorKind, Conversation, ConversationStatus, Homepage, IceServer,
    IceTransportPolicy, IdentifyResponse, IdentityRequirements, Launcher, LauncherIcon,
    LauncherPosition, Message, OnlineAgent, PersonSummary, Presence, QuickLink, ResponseTimes,
    ServerEvent, StreamEnd, WidgetConfig, WidgetSessionResponse, WidgetSettings,
};
use talk_widget::decode::{parse, DecodeError, FromJs};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Written by serde (the server's side), read back by the widget's decoder.
fn round_trip<T: serde::Serialize + FromJs + PartialEq + Debug>(value: T) {
    let text = talk_browser::json::stringify(&value).unwrap();
    assert_eq!(parse::<T>(&text), Ok(value), "{text}");
}

fn person(full: bool) -> PersonSummary {
    PersonSummary {
        email: full.then(|| "ada@example.com".into()),
        first_name: full.then(|| "Ada".into()),
        last_name: None,
        name: full.then(|| "Ada L".into()),
    }
}

fn message(client_msg_id: Option<&str>, kind: AuthorKind) -> Message {
    Message {
        id: "m1".into(),
        conversation_id: "c1".into(),
        seq: 9_007_199_254_740_991,
        author: Author {
            kind,
            name: (kind != AuthorKind::Visitor).then(|| "Grace".into()),
        },
        body: "<b>not markup</b> ✓ مرحبا".into(),
        client_msg_id: client_msg_id.map(Into::into),
        created_at: 1_700_000_000_000,
    }
}

fn conversation(assigned: bool) -> Conversation {
    Conversation {
        id: "c1".into(),
        verified: assigned,
        status: if assigned {
            ConversationStatus::Closed
        } else {
            ConversationStatus::Open
        },
        visitor_id: "v".repeat(32),
        person_id: assigned.then(|| "p1".into()),
        last_seq: 12,
        created_at: 1_700_000_000_000,
        assignee_id: assigned.then(|| "a1".into()),
        visitor_read_seq: 3,
        agent_read_seq: 12,
    }
}

#[wasm_bindgen_test]
fn every_socket_event_decodes_as_serde_wrote_it() {
    let events = [
        ServerEvent::Ready {
            session_id: "s1".into(),
            conversations: vec![conversation(false), conversation(true)],
        },
        ServerEvent::Ack {
            client_msg_id: "u1".into(),
            message: message(Some("u1"), AuthorKind::Visitor),
        },
        ServerEvent::History {
            conversation_id: "c1".into(),
            messages: vec![
                message(None, AuthorKind::Bot),
                message(None, AuthorKind::Agent),
            ],
            more: true,
        },
        ServerEvent::History {
            conversation_id: "c1".into(),
            messages: vec![],
            more: false,
        },
        ServerEvent::Message {
            message: message(None, AuthorKind::Agent),
        },
        ServerEvent::ConversationUpdated {
            conversation: conversation(true),
        },
        ServerEvent::Typing {
            conversation_id: "c1".into(),
            author: Author {
                kind: AuthorKind::Agent,
                name: None,
            },
            typing: true,
        },
        ServerEvent::Read {
            conversation_id: "c1".into(),
            reader: AuthorKind::Agent,
            up_to_seq: 4,
        },
        ServerEvent::Error {
            code: "rate_limited".into(),
            message: "Slow down.".into(),
            client_msg_id: Some("u2".into()),
        },
        ServerEvent::Error {
            code: "bad_event".into(),
            message: "What?".into(),
            client_msg_id: None,
        },
        ServerEvent::Pong,
    ];
    for event in events {
        round_trip(event);
    }
}

#[wasm_bindgen_test]
fn session_identify_and_widget_config_answers_decode_as_serde_wrote_them() {
    for verified in [false, true] {
        let answer = WidgetSessionResponse {
            session_id: "s1".into(),
            session_token: "t".into(),
            session_token_expires_at: 1_700_000_900_000,
            socket_url: "ws://127.0.0.1/v1/talk/socket".into(),
            messages_url: "http://127.0.0.1/v1/talk/messages".into(),
            ice_servers: vec![
                IceServer {
                    urls: vec!["stun:127.0.0.1:3478".into()],
                    username: None,
                    credential: None,
                },
                IceServer {
                    urls: vec!["turn:127.0.0.1:3478".into(), "turns:127.0.0.1".into()],
                    username: Some("u".into()),
                    credential: Some("c".into()),
                },
            ],
            ice_transport_policy: if verified {
                IceTransportPolicy::Relay
            } else {
                IceTransportPolicy::All
            },
            verified,
            person: verified.then(|| person(true)),
            identity: IdentityRequirements {
                names_required: verified,
            },
        };
        // The ICE servers are the call module's (it reads the answer's JSON): the engine
        // leaves them out, whatever the answer says.
        let text = talk_browser::json::stringify(&answer).unwrap();
        let expected = WidgetSessionResponse {
            ice_servers: Vec::new(),
            ice_transport_policy: IceTransportPolicy::All,
            ..answer
        };
        assert_eq!(
            parse::<WidgetSessionResponse>(&text),
            Ok(expected),
            "{text}"
        );
    }
    round_trip(IdentifyResponse {
        person: person(false),
    });
    round_trip(StreamEnd {
        code: talk_protocol::close_code::TOKEN_EXPIRED,
        reason: "token expired".into(),
    });
    round_trip(WidgetConfig {
        settings: WidgetSettings::default(),
        status: Presence::Away,
        online_agents: vec![],
    });
    let icons = [
        LauncherIcon::Default,
        LauncherIcon::Chat,
        LauncherIcon::Question,
        LauncherIcon::Custom {
            url: "https://example.com/i.png".into(),
        },
    ];
    for (index, icon) in icons.into_iter().enumerate() {
        round_trip(WidgetConfig {
            settings: WidgetSettings {
                enabled: index % 2 == 0,
                homepage: Homepage {
                    logo_url: Some("https://example.com/logo.png".into()),
                    brand_color: "#123456".into(),
                    quick_links: vec![QuickLink {
                        label: "Docs".into(),
                        url: "https://example.com/docs".into(),
                    }],
                    appearance: [Appearance::Auto, Appearance::Light, Appearance::Dark][index % 3],
                    ..Homepage::default()
                },
                launcher: Launcher {
                    icon,
                    position: LauncherPosition::Left,
                    horizontal_margin: 200,
                    vertical_margin: 0,
                    z_index: 2_147_483_647,
                },
                names_required: true,
                response_times: ResponseTimes {
                    online: "Minutes".into(),
                    away: String::new(),
                },
                voice: index % 2 == 1,
            },
            status: Presence::Online,
            online_agents: vec![
                OnlineAgent {
                    name: "Grace".into(),
                    photo_url: None,
                },
                OnlineAgent {
                    name: "Ada".into(),
                    photo_url: Some("https://example.com/a.png".into()),
                },
            ],
        });
    }
}

#[wasm_bindgen_test]
fn settings_left_out_take_their_defaults_like_serde() {
    let decoded: WidgetConfig = parse(
        r#"{"settings": {"enabled": false, "launcher": {"position": "left"}},
            "status": "online", "online_agents": []}"#,
    )
    .unwrap();
    let expected = WidgetSettings {
        enabled: false,
        launcher: Launcher {
            position: LauncherPosition::Left,
            ..Launcher::default()
        },
        ..WidgetSettings::default()
    };
    assert_eq!(decoded.settings, expected);
}

#[wasm_bindgen_test]
fn a_history_without_more_is_the_last_page_like_serde() {
    // Servers before paging wrote no `more`; serde's `#[serde(default)]` reads false.
    let text = r#"{"type": "history", "conversation_id": "c1", "messages": []}"#;
    let expected = ServerEvent::History {
        conversation_id: "c1".into(),
        messages: vec![],
        more: false,
    };
    assert_eq!(parse::<ServerEvent>(text), Ok(expected));
}

#[wasm_bindgen_test]
fn malformed_answers_are_errors_naming_the_field() {
    assert_eq!(parse::<ServerEvent>("not json"), Err(DecodeError("JSON")));
    assert_eq!(
        parse::<ServerEvent>(r#"{"type": "teleport"}"#),
        Err(DecodeError("type"))
    );
    assert_eq!(parse::<ServerEvent>("[1, 2]"), Err(DecodeError("type")));
    assert_eq!(
        parse::<ServerEvent>(
            r#"{"type": "read", "conversation_id": "c1", "reader": "agent", "up_to_seq": 1.5}"#
        ),
        Err(DecodeError("up_to_seq"))
    );
    assert_eq!(
        parse::<ServerEvent>(
            r#"{"type": "typing", "conversation_id": "c1", "author": {"kind": "robot"}, "typing": true}"#
        ),
        Err(DecodeError("author"))
    );
    assert_eq!(
        parse::<Message>(
            r#"{"id": "m", "conversation_id": "c", "seq": 1, "author": {"kind": "bot"}, "created_at": 1}"#
        ),
        Err(DecodeError("body"))
    );
    assert_eq!(
        parse::<WidgetConfig>(
            r#"{"settings": {"launcher": {"z_index": -1}}, "status": "away", "online_agents": []}"#
        ),
        Err(DecodeError("settings"))
    );
}

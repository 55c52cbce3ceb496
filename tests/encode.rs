//! The widget's encoders (`src/encode.rs`) against serde's wire format: every value must be
//! written exactly as its `Serialize` derive writes it (the same text, fields in the same
//! order, `None` left out), and read back by the server's `Deserialize` as the same value.
#![cfg(target_arch = "wasm32")]

use std::fmt::Debug;
use talk_protocol::{ClientEvent, IdentifyRequest, WidgetSessionRequest};
use talk_widget::encode::{to_json, ToJs};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn same_as_serde<T>(value: T)
where
    T: ToJs + serde::Serialize + serde::de::DeserializeOwned + PartialEq + Debug,
{
    let ours = to_json(&value);
    assert_eq!(ours, talk_browser::json::stringify(&value).unwrap());
    assert_eq!(talk_browser::json::parse::<T>(&ours), Ok(value), "{ours}");
}

/// Quotes, backslashes, control characters, and non-ASCII text.
const AWKWARD: &str = "\"quoted\" \\ back\\slash\n\ttab \u{1} é 😀 </script>";

#[wasm_bindgen_test]
fn every_client_event_is_written_as_serde_writes_it() {
    same_as_serde(ClientEvent::Auth {
        token: "t.o.k".into(),
    });
    same_as_serde(ClientEvent::Send {
        conversation_id: Some("c1".into()),
        client_msg_id: "m1".into(),
        body: AWKWARD.into(),
    });
    same_as_serde(ClientEvent::Send {
        conversation_id: None,
        client_msg_id: "m2".into(),
        body: String::new(),
    });
    same_as_serde(ClientEvent::Resume {
        conversation_id: "c1".into(),
        after_seq: 9_007_199_254_740_991,
    });
    same_as_serde(ClientEvent::Resume {
        conversation_id: "c1".into(),
        after_seq: 0,
    });
    same_as_serde(ClientEvent::LoadBefore {
        conversation_id: "c1".into(),
        before_seq: Some(42),
        limit: Some(u32::MAX),
    });
    same_as_serde(ClientEvent::LoadBefore {
        conversation_id: "c1".into(),
        before_seq: None,
        limit: None,
    });
    same_as_serde(ClientEvent::Typing {
        conversation_id: "c1".into(),
        typing: true,
    });
    same_as_serde(ClientEvent::Typing {
        conversation_id: "c1".into(),
        typing: false,
    });
    same_as_serde(ClientEvent::Read {
        conversation_id: "c1".into(),
        up_to_seq: 7,
    });
    same_as_serde(ClientEvent::Ping);
}

#[wasm_bindgen_test]
fn requests_are_written_as_serde_writes_them() {
    same_as_serde(WidgetSessionRequest {
        capture_key: "talk_pk_x".into(),
        visitor_id: "0123456789abcdef0123456789abcdef".into(),
        token: Some(AWKWARD.into()),
        page_url: Some("https://shop.example/pricing?plan=pro".into()),
    });
    same_as_serde(WidgetSessionRequest {
        capture_key: "talk_pk_x".into(),
        visitor_id: "v".into(),
        token: None,
        page_url: None,
    });
    same_as_serde(IdentifyRequest {
        email: "ada@example.com".into(),
        first_name: Some("Ada".into()),
        last_name: Some(AWKWARD.into()),
    });
    same_as_serde(IdentifyRequest {
        email: "ada@example.com".into(),
        first_name: None,
        last_name: None,
    });
}

//! The widget's requests and socket events as JSON, written through the browser's own
//! `JSON.stringify` from objects built field by field.
//!
//! Why not serde's `Serialize` derives: they came with serde-wasm-bindgen's serializer and
//! its string cache, a few kilobytes of WASM for three types (docs/benchmarks.md). The wire
//! format stays serde's: `tests/encode.rs` checks that every value is written exactly as its
//! `Serialize` derive writes it (same text) and reads back through serde.

use js_sys::{Object, Reflect, JSON};
use talk_protocol::{ClientEvent, IdentifyRequest, WidgetSessionRequest};
use wasm_bindgen::JsValue;

/// A value the widget sends.
pub trait ToJs {
    fn to_js(&self) -> JsValue;
}

/// The JSON text of `value`.
pub fn to_json(value: &dyn ToJs) -> String {
    JSON::stringify(&value.to_js())
        .ok()
        .and_then(|text| text.as_string())
        .unwrap_or_default()
}

/// An object with `fields` in this order (serde's); an undefined value (a `None` that serde
/// skips) is left out by `JSON.stringify`.
fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (name, value) in fields {
        let _ = Reflect::set(&object, &JsValue::from_str(name), value);
    }
    object.into()
}

fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

/// `None` is skipped (`skip_serializing_if = "Option::is_none"` on every optional field).
fn optional_text(value: &Option<String>) -> JsValue {
    value.as_deref().map_or(JsValue::UNDEFINED, text)
}

/// JSON numbers are doubles; sequence numbers stay below 2^53.
fn number(value: i64) -> JsValue {
    JsValue::from_f64(value as f64)
}

impl ToJs for ClientEvent {
    fn to_js(&self) -> JsValue {
        match self {
            ClientEvent::Auth { token } => {
                object(&[("type", text("auth")), ("token", text(token))])
            }
            ClientEvent::Send {
                conversation_id,
                client_msg_id,
                body,
            } => object(&[
                ("type", text("send")),
                ("conversation_id", optional_text(conversation_id)),
                ("client_msg_id", text(client_msg_id)),
                ("body", text(body)),
            ]),
            ClientEvent::Resume {
                conversation_id,
                after_seq,
            } => object(&[
                ("type", text("resume")),
                ("conversation_id", text(conversation_id)),
                ("after_seq", number(*after_seq)),
            ]),
            ClientEvent::LoadBefore {
                conversation_id,
                before_seq,
                limit,
            } => object(&[
                ("type", text("load_before")),
                ("conversation_id", text(conversation_id)),
                ("before_seq", before_seq.map_or(JsValue::UNDEFINED, number)),
                (
                    "limit",
                    limit.map_or(JsValue::UNDEFINED, |limit| number(i64::from(limit))),
                ),
            ]),
            ClientEvent::Typing {
                conversation_id,
                typing,
            } => object(&[
                ("type", text("typing")),
                ("conversation_id", text(conversation_id)),
                ("typing", JsValue::from_bool(*typing)),
            ]),
            ClientEvent::Read {
                conversation_id,
                up_to_seq,
            } => object(&[
                ("type", text("read")),
                ("conversation_id", text(conversation_id)),
                ("up_to_seq", number(*up_to_seq)),
            ]),
            ClientEvent::Ping => object(&[("type", text("ping"))]),
            // Call events exist only with talk-protocol's `calls` feature (on in builds beside
            // the server); the engine never makes one.
            #[allow(unreachable_patterns)]
            _ => unreachable!("the widget's engine sends no call events"),
        }
    }
}

impl ToJs for WidgetSessionRequest {
    fn to_js(&self) -> JsValue {
        object(&[
            ("capture_key", text(&self.capture_key)),
            ("visitor_id", text(&self.visitor_id)),
            ("token", optional_text(&self.token)),
            ("page_url", optional_text(&self.page_url)),
        ])
    }
}

impl ToJs for IdentifyRequest {
    fn to_js(&self) -> JsValue {
        object(&[
            ("email", text(&self.email)),
            ("first_name", optional_text(&self.first_name)),
            ("last_name", optional_text(&self.last_name)),
        ])
    }
}

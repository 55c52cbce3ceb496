//! The server's answers and socket events, read field by field from the object the browser's
//! `JSON.parse` made.
//!
//! Why not serde's derives, as everywhere else: in the widget their visitors, the buffering
//! of internally tagged enums and serde-wasm-bindgen's deserializer came to about 100 KB of
//! WASM, a third of the widget's weight in gzip (docs/benchmarks.md has the measurement).
//! This is a few hundred bytes a type. The wire format stays serde's: `tests/decode.rs`
//! serialises every type with its `Serialize` derive (as the server does) and checks that it
//! decodes back to the same value, so a renamed field fails there, not in a visitor's browser.

use js_sys::{Array, Reflect};
use talk_protocol::{
    Appearance, Author, AuthorKind, Conversation, ConversationStatus, Homepage, IceTransportPolicy,
    IdentifyResponse, IdentityRequirements, Launcher, LauncherIcon, LauncherPosition, Message,
    OnlineAgent, PersonSummary, Presence, QuickLink, ResponseTimes, ServerEvent, StreamEnd,
    WidgetConfig, WidgetSessionResponse, WidgetSettings,
};
use wasm_bindgen::JsValue;

/// What was wrong: the field (or type) that did not have the expected shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

pub type Decoded<T> = Result<T, DecodeError>;

/// A value read from the browser's parsed JSON.
pub trait FromJs: Sized {
    fn from_js(value: &JsValue) -> Decoded<Self>;
}

/// Parses `text` with the browser's `JSON.parse` and decodes it.
pub fn parse<T: FromJs>(text: &str) -> Decoded<T> {
    let value = js_sys::JSON::parse(text).map_err(|_| DecodeError("JSON"))?;
    T::from_js(&value)
}

fn property(object: &JsValue, name: &str) -> JsValue {
    if object.is_object() {
        Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// The field `name`, which must be there; an `Option` may be null or missing (serde reads a
/// missing `Option` as `None` too, so those fields need no default).
fn field<T: FromJs>(object: &JsValue, name: &'static str) -> Decoded<T> {
    T::from_js(&property(object, name)).map_err(|_| DecodeError(name))
}

/// The field `name`, or `default` when it is missing or null (serde's `#[serde(default)]`).
fn field_or<T: FromJs>(object: &JsValue, name: &'static str, default: T) -> Decoded<T> {
    let value = property(object, name);
    if value.is_undefined() || value.is_null() {
        Ok(default)
    } else {
        T::from_js(&value).map_err(|_| DecodeError(name))
    }
}

/// Sets `slot` to the field `name` when it is there and not null (serde's
/// `#[serde(default)]`: `slot` holds the default). Not inlined: one copy per field type,
/// shared by the defaulted structs' fields.
#[inline(never)]
fn set_field<T: FromJs>(slot: &mut T, object: &JsValue, name: &'static str) -> Decoded<()> {
    let value = property(object, name);
    if !(value.is_undefined() || value.is_null()) {
        *slot = T::from_js(&value).map_err(|_| DecodeError(name))?;
    }
    Ok(())
}

impl FromJs for String {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        value.as_string().ok_or(DecodeError("string"))
    }
}

impl FromJs for bool {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        value.as_bool().ok_or(DecodeError("boolean"))
    }
}

/// A whole number that fits: JSON numbers are doubles, exact up to 2^53.
fn integer(value: &JsValue, min: f64, max: f64) -> Decoded<f64> {
    match value.as_f64() {
        Some(number) if number.fract() == 0.0 && (min..=max).contains(&number) => Ok(number),
        _ => Err(DecodeError("integer")),
    }
}

impl FromJs for i64 {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        integer(value, -9_007_199_254_740_991.0, 9_007_199_254_740_991.0).map(|n| n as i64)
    }
}

impl FromJs for u32 {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        integer(value, 0.0, f64::from(u32::MAX)).map(|n| n as u32)
    }
}

impl FromJs for u16 {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        integer(value, 0.0, f64::from(u16::MAX)).map(|n| n as u16)
    }
}

impl<T: FromJs> FromJs for Option<T> {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        if value.is_undefined() || value.is_null() {
            Ok(None)
        } else {
            T::from_js(value).map(Some)
        }
    }
}

impl<T: FromJs> FromJs for Vec<T> {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        // A plain loop: `.map(..).collect::<Result<_, _>>()` compiled its iterator adapters
        // once more for every element type.
        let array = array(value)?;
        let mut items = Vec::with_capacity(array.length() as usize);
        for index in 0..array.length() {
            items.push(T::from_js(&array.get(index))?);
        }
        Ok(items)
    }
}

fn array(value: &JsValue) -> Decoded<Array> {
    if Array::is_array(value) {
        Ok(Array::from(value))
    } else {
        Err(DecodeError("array"))
    }
}

/// A struct whose fields are all in the JSON; `field = default` marks one that may be left
/// out (serde's `#[serde(default)]`).
macro_rules! decode_struct {
    ($type:ident { $($field:ident $(= $default:expr)?),* $(,)? }) => {
        impl FromJs for $type {
            fn from_js(value: &JsValue) -> Decoded<Self> {
                if !value.is_object() {
                    return Err(DecodeError(stringify!($type)));
                }
                Ok($type {
                    $($field: decode_struct!(@field value, $field $(, $default)?)?,)*
                })
            }
        }
    };
    (@field $value:ident, $field:ident) => { field($value, stringify!($field)) };
    (@field $value:ident, $field:ident, $default:expr) => {
        field_or($value, stringify!($field), $default)
    };
}

/// A struct that is `#[serde(default)]` as a whole: every field may be left out.
macro_rules! decode_defaulted_struct {
    ($type:ident { $($field:ident),* $(,)? }) => {
        impl FromJs for $type {
            fn from_js(value: &JsValue) -> Decoded<Self> {
                if !value.is_object() {
                    return Err(DecodeError(stringify!($type)));
                }
                let mut decoded = $type::default();
                $(set_field(&mut decoded.$field, value, stringify!($field))?;)*
                Ok(decoded)
            }
        }
    };
}

/// An enum of unit variants, written as snake_case strings.
macro_rules! decode_unit_enum {
    ($type:ident { $($variant:ident = $name:literal),* $(,)? }) => {
        impl FromJs for $type {
            fn from_js(value: &JsValue) -> Decoded<Self> {
                match value.as_string().as_deref() {
                    $(Some($name) => Ok($type::$variant),)*
                    _ => Err(DecodeError(stringify!($type))),
                }
            }
        }
    };
}

decode_unit_enum!(AuthorKind { Visitor = "visitor", Agent = "agent", Bot = "bot" });
decode_unit_enum!(ConversationStatus { Open = "open", Closed = "closed" });
decode_unit_enum!(Presence { Online = "online", Away = "away" });
decode_unit_enum!(Appearance { Auto = "auto", Light = "light", Dark = "dark" });
decode_unit_enum!(LauncherPosition { Right = "right", Left = "left" });

decode_struct!(Author { kind, name });
decode_struct!(StreamEnd { code, reason });
decode_struct!(Message {
    id,
    conversation_id,
    seq,
    author,
    body,
    client_msg_id,
    created_at
});
decode_struct!(Conversation {
    id,
    verified,
    status,
    visitor_id,
    person_id,
    last_seq,
    created_at,
    assignee_id,
    visitor_read_seq = 0,
    agent_read_seq = 0,
});
decode_struct!(PersonSummary {
    email,
    first_name,
    last_name,
    name
});
decode_struct!(IdentityRequirements { names_required });
/// The ICE servers and their policy are the call module's, which reads them from the
/// answer's JSON (`runtime/call.rs`): the engine leaves them out, and their decoders with them
/// (the bytes paid for the capture widgets' part of the widget).
impl FromJs for WidgetSessionResponse {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        if !value.is_object() {
            return Err(DecodeError("WidgetSessionResponse"));
        }
        Ok(WidgetSessionResponse {
            session_id: field(value, "session_id")?,
            session_token: field(value, "session_token")?,
            session_token_expires_at: field(value, "session_token_expires_at")?,
            socket_url: field(value, "socket_url")?,
            messages_url: field(value, "messages_url")?,
            ice_servers: Vec::new(),
            ice_transport_policy: IceTransportPolicy::All,
            verified: field(value, "verified")?,
            person: field(value, "person")?,
            identity: field(value, "identity")?,
        })
    }
}
decode_struct!(IdentifyResponse { person });
decode_struct!(QuickLink { label, url });
decode_struct!(OnlineAgent { name, photo_url });
decode_struct!(WidgetConfig {
    settings,
    status,
    online_agents
});
decode_defaulted_struct!(WidgetSettings {
    enabled,
    homepage,
    launcher,
    names_required,
    response_times,
    voice
});
decode_defaulted_struct!(Homepage {
    logo_url,
    brand_color,
    text_color,
    font_family,
    bot_name,
    bot_photo_url,
    greeting,
    quick_links,
    appearance,
});
decode_defaulted_struct!(Launcher {
    icon,
    position,
    horizontal_margin,
    vertical_margin,
    z_index
});
decode_defaulted_struct!(ResponseTimes { online, away });

impl FromJs for LauncherIcon {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let kind: String = field(value, "kind")?;
        Ok(match kind.as_str() {
            "default" => LauncherIcon::Default,
            "chat" => LauncherIcon::Chat,
            "question" => LauncherIcon::Question,
            "custom" => LauncherIcon::Custom {
                url: field(value, "url")?,
            },
            _ => return Err(DecodeError("LauncherIcon")),
        })
    }
}

impl FromJs for ServerEvent {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        let kind: String = field(value, "type")?;
        let v = value;
        Ok(match kind.as_str() {
            "ready" => ServerEvent::Ready {
                session_id: field(v, "session_id")?,
                conversations: field(v, "conversations")?,
            },
            "ack" => ServerEvent::Ack {
                client_msg_id: field(v, "client_msg_id")?,
                message: field(v, "message")?,
            },
            "history" => ServerEvent::History {
                conversation_id: field(v, "conversation_id")?,
                messages: field(v, "messages")?,
                more: field_or(v, "more", false)?,
            },
            "message" => ServerEvent::Message {
                message: field(v, "message")?,
            },
            "conversation_updated" => ServerEvent::ConversationUpdated {
                conversation: field(v, "conversation")?,
            },
            "typing" => ServerEvent::Typing {
                conversation_id: field(v, "conversation_id")?,
                author: field(v, "author")?,
                typing: field(v, "typing")?,
            },
            "read" => ServerEvent::Read {
                conversation_id: field(v, "conversation_id")?,
                reader: field(v, "reader")?,
                up_to_seq: field(v, "up_to_seq")?,
            },
            "error" => ServerEvent::Error {
                code: field(v, "code")?,
                message: field(v, "message")?,
                client_msg_id: field(v, "client_msg_id")?,
            },
            "pong" => ServerEvent::Pong,
            _ => return Err(DecodeError("type")),
        })
    }
}

/// What the loader hands over from `ap3c.init` (camelCase: it is the loader's JavaScript).
impl FromJs for crate::runtime::LoaderConfig {
    fn from_js(value: &JsValue) -> Decoded<Self> {
        Ok(crate::runtime::LoaderConfig {
            capture_key: field(value, "captureKey")?,
            api_url: field(value, "apiUrl")?,
            visitor_id: field(value, "visitorId")?,
            token: field(value, "token")?,
            language: field(value, "language")?,
            page_url: field(value, "pageUrl")?,
        })
    }
}

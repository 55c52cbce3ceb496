//! Generated-input tests of the decoders the server runs on what browsers and backends send:
//! `ClientEvent` (socket frames and `POST /v1/talk/messages`), `WidgetSessionRequest` and
//! `TalkSessionRequest`. Any bytes or JSON give a value or an error, never a panic, and every
//! valid value survives serialising and decoding unchanged.

use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Debug;
use talk_protocol::{ClientEvent, FieldValue, Location, TalkSessionRequest, WidgetSessionRequest};

const CASES: u32 = 512;

/// Decodes; an error is fine, a panic fails the test (proptest reports it as one).
fn decode_bytes<T: DeserializeOwned>(bytes: &[u8]) {
    let _ = serde_json::from_slice::<T>(bytes);
}

fn decode_value<T: DeserializeOwned + Serialize + PartialEq + Debug>(value: Value) {
    // A value that decodes must also encode and decode back to itself.
    if let Ok(decoded) = serde_json::from_value::<T>(value) {
        round_trips(&decoded);
    }
}

fn round_trips<T: DeserializeOwned + Serialize + PartialEq + Debug>(value: &T) {
    let text = serde_json::to_string(value).expect("a valid value serialises");
    let back: T = serde_json::from_str(&text).unwrap_or_else(|error| panic!("{text}: {error}"));
    assert_eq!(&back, value, "{text}");
}

/// Floats with two decimals. serde_json's default parser (no `float_roundtrip`) may read a
/// float of 16 or more significant digits one ulp off, so those would not round-trip; no
/// field takes a float anyway (`POST /v1/talk/session` answers `invalid_field_value`).
fn short_decimal() -> impl Strategy<Value = f64> {
    any::<i32>().prop_map(|hundredths| f64::from(hundredths) / 100.0)
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        // Not u64s above i64::MAX: a field value takes those as an f64, which can't hold
        // them exactly, so they can't round-trip (and no field takes a number anyway).
        any::<i64>().prop_map(Value::from),
        short_decimal().prop_map(|number| json!(number)),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// An object made of the decoders' own names (tags and fields) with any values: most such
/// objects are nearly valid, which is where decoding has the most paths.
fn shaped_object() -> impl Strategy<Value = Value> {
    const NAMES: [&str; 20] = [
        "type",
        "token",
        "conversation_id",
        "client_msg_id",
        "body",
        "after_seq",
        "before_seq",
        "limit",
        "typing",
        "up_to_seq",
        "capture_key",
        "visitor_id",
        "merge_by",
        "merge_strategy",
        "find_strategy",
        "skip_non_existing",
        "person_id",
        "fields",
        "location",
        "source_ip",
    ];
    const TAGS: [&str; 9] = [
        "auth",
        "send",
        "resume",
        "load_before",
        "typing",
        "read",
        "ping",
        "Ping",
        "",
    ];
    let value = prop_oneof![
        3 => any_json(),
        1 => prop::sample::select(&TAGS[..]).prop_map(Value::from),
    ];
    (
        prop::sample::select(&TAGS[..]),
        prop::collection::btree_map(prop::sample::select(&NAMES[..]), value, 0..7),
    )
        .prop_map(|(tag, fields)| {
            let mut object: serde_json::Map<String, Value> = fields
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect();
            object.entry("type").or_insert_with(|| Value::from(tag));
            Value::Object(object)
        })
}

fn text() -> impl Strategy<Value = String> {
    ".{0,24}"
}

fn client_event() -> impl Strategy<Value = ClientEvent> {
    prop_oneof![
        text().prop_map(|token| ClientEvent::Auth { token }),
        (prop::option::of(text()), text(), text()).prop_map(
            |(conversation_id, client_msg_id, body)| ClientEvent::Send {
                conversation_id,
                client_msg_id,
                body,
            }
        ),
        (text(), any::<i64>()).prop_map(|(conversation_id, after_seq)| ClientEvent::Resume {
            conversation_id,
            after_seq,
        }),
        (
            text(),
            prop::option::of(any::<i64>()),
            prop::option::of(any::<u32>())
        )
            .prop_map(
                |(conversation_id, before_seq, limit)| ClientEvent::LoadBefore {
                    conversation_id,
                    before_seq,
                    limit,
                }
            ),
        (text(), any::<bool>()).prop_map(|(conversation_id, typing)| ClientEvent::Typing {
            conversation_id,
            typing,
        }),
        (text(), any::<i64>()).prop_map(|(conversation_id, up_to_seq)| ClientEvent::Read {
            conversation_id,
            up_to_seq,
        }),
        Just(ClientEvent::Ping),
    ]
}

fn widget_session_request() -> impl Strategy<Value = WidgetSessionRequest> {
    (
        text(),
        text(),
        prop::option::of(text()),
        prop::option::of(text()),
    )
        .prop_map(
            |(capture_key, visitor_id, token, page_url)| WidgetSessionRequest {
                capture_key,
                visitor_id,
                token,
                page_url,
            },
        )
}

fn field_value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        text().prop_map(FieldValue::Text),
        any::<i64>().prop_map(FieldValue::Integer),
        short_decimal().prop_map(FieldValue::Number),
        any::<bool>().prop_map(FieldValue::Bool),
    ]
}

fn talk_session_request() -> impl Strategy<Value = TalkSessionRequest> {
    (
        prop::option::of(prop::collection::vec(text(), 0..3)),
        prop::option::of(any::<u8>()),
        prop::option::of(any::<u8>()),
        any::<bool>(),
        prop::option::of(text()),
        prop::collection::btree_map(text(), field_value(), 0..6),
        prop::option::of(prop::option::of(text())),
    )
        .prop_map(
            |(merge_by, merge_strategy, find_strategy, skip, person_id, fields, location)| {
                TalkSessionRequest {
                    merge_by,
                    merge_strategy,
                    find_strategy,
                    skip_non_existing: skip,
                    browser: false,
                    person_id,
                    fields: fields.into_iter().collect::<BTreeMap<_, _>>(),
                    location: location.map(|source_ip| Location { source_ip }),
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_bytes_decode_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..96)) {
        decode_bytes::<ClientEvent>(&bytes);
        decode_bytes::<WidgetSessionRequest>(&bytes);
        decode_bytes::<TalkSessionRequest>(&bytes);
    }

    #[test]
    fn any_json_decodes_or_fails_cleanly(value in any_json()) {
        decode_value::<ClientEvent>(value.clone());
        decode_value::<WidgetSessionRequest>(value.clone());
        decode_value::<TalkSessionRequest>(value.clone());
        // The same as text, the way it arrives.
        decode_bytes::<ClientEvent>(value.to_string().as_bytes());
    }

    #[test]
    fn nearly_valid_objects_decode_or_fail_cleanly(value in shaped_object()) {
        decode_value::<ClientEvent>(value.clone());
        decode_value::<WidgetSessionRequest>(value.clone());
        decode_value::<TalkSessionRequest>(value);
    }

    #[test]
    fn client_events_round_trip(event in client_event()) {
        round_trips(&event);
    }

    #[test]
    fn widget_session_requests_round_trip(request in widget_session_request()) {
        round_trips(&request);
    }

    #[test]
    fn talk_session_requests_round_trip(request in talk_session_request()) {
        round_trips(&request);
    }
}

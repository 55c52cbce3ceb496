//! `POST /v1/talk/session`'s merge strategies under generated requests, against the real
//! server and a real SQLite file: a person is created, a second request for the same email
//! merges into it, and `GET /v1/people/{id}` must show what the strategy promises. Blank
//! values, the derived first and last name and the stored JSON all take part, which the pure
//! `people::merge_fields` properties don't reach.

mod common;

use axum::http::StatusCode;
use common::{test_app, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

const CASES: u32 = 48;

/// Fields besides the email (the merge key, the same in both requests).
const NAMES: [&str; 6] = [
    "str::name",
    "str::first",
    "str::last",
    "str:cm:plan",
    "int::seats",
    "bool::trial",
];

/// A value for a field, by its prefix; text may be blank or padded.
fn value_for(name: &'static str) -> BoxedStrategy<Value> {
    match name.split(':').next() {
        Some("int") => any::<i32>().prop_map(Value::from).boxed(),
        Some("bool") => any::<bool>().prop_map(Value::from).boxed(),
        _ => prop_oneof![
            1 => "[ ]{0,2}".prop_map(Value::from),
            4 => "[ ]?[A-Za-z]{1,6}( [A-Za-z]{1,6})?[ ]?".prop_map(Value::from),
        ]
        .boxed(),
    }
}

/// Some of the fields, each with a value of its type; `str::name` always (it is required).
fn some_fields() -> impl Strategy<Value = Map<String, Value>> {
    let optional: Vec<_> = NAMES
        .iter()
        .map(|name| prop::option::of(value_for(name)))
        .collect();
    ("[A-Za-z]{1,6}( [A-Za-z]{1,6})?", optional).prop_map(|(name, values)| {
        let mut fields: Map<String, Value> = NAMES
            .iter()
            .zip(values)
            .filter_map(|(field, value)| value.map(|value| (field.to_string(), value)))
            .collect();
        // A request without a non-blank name is refused (`missing_name`), not merged.
        if fields
            .get("str::name")
            .and_then(Value::as_str)
            .is_none_or(|text| text.trim().is_empty())
        {
            fields.insert("str::name".into(), Value::from(name));
        }
        fields
    })
}

fn non_blank(value: Option<&Value>) -> Option<Value> {
    match value? {
        Value::String(text) if text.trim().is_empty() => None,
        Value::String(text) => Some(Value::from(text.trim())),
        other => Some(other.clone()),
    }
}

/// The person's stored fields, without the email.
async fn stored_fields(app: &TestApp, person_id: &str) -> Map<String, Value> {
    let mut fields = app.person_profile(person_id).await["person"]["fields"]
        .as_object()
        .unwrap()
        .clone();
    fields.remove("str::email");
    fields
}

async fn session(app: &TestApp, email: &str, strategy: u8, fields: &Map<String, Value>) -> String {
    let mut fields = fields.clone();
    fields.insert("str::email".into(), Value::from(email));
    let answer = app
        .talk_session(json!({"merge_strategy": strategy, "fields": fields}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()["person_id"].as_str().unwrap().to_string()
}

#[test]
fn each_merge_strategy_keeps_its_promise_for_generated_requests() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(test_app());
    let case = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config::with_cases(CASES));
    let inputs = (some_fields(), 1u8..=3, some_fields());
    runner
        .run(&inputs, |(first, strategy, second)| {
            // Each case (and each shrinking step) gets its own person.
            let email = format!("case-{}@example.com", case.fetch_add(1, Ordering::Relaxed));
            runtime.block_on(async {
                let person_id = session(&app, &email, 2, &first).await;
                let before = stored_fields(&app, &person_id).await;
                let again = session(&app, &email, strategy, &second).await;
                assert_eq!(again, person_id, "the email finds the same person");
                let after = stored_fields(&app, &person_id).await;
                check(strategy, &before, &second, &after);
            });
            Ok(())
        })
        .unwrap();
}

/// What each strategy promises about an existing person (docs/api.md, "Merge strategy").
fn check(
    strategy: u8,
    before: &Map<String, Value>,
    given: &Map<String, Value>,
    after: &Map<String, Value>,
) {
    let context =
        format!("strategy {strategy}: before {before:?}, given {given:?}, after {after:?}");
    // str::first and str::last may also be filled from str::name (only where empty) when
    // the request gives neither (a blank one counts as not given).
    let derived = |name: &str| {
        matches!(name, "str::first" | "str::last")
            && non_blank(given.get("str::first")).is_none()
            && non_blank(given.get("str::last")).is_none()
    };
    for name in NAMES {
        let was = before.get(name);
        let now = after.get(name);
        let sent = non_blank(given.get(name));
        match strategy {
            // 1: never overwrites a non-empty field; fills the empty ones it is given.
            1 => match (was, sent) {
                (Some(was), _) => assert_eq!(now, Some(was), "{name} overwritten; {context}"),
                (None, Some(sent)) => assert_eq!(now, Some(&sent), "{name} not filled; {context}"),
                (None, None) if derived(name) => {}
                (None, None) => assert_eq!(now, None, "{name} appeared; {context}"),
            },
            // 2: sets every field given; a blank never erases; the rest stay.
            2 => match sent {
                Some(sent) => assert_eq!(now, Some(&sent), "{name} not set; {context}"),
                None if derived(name) && was.is_none() => {}
                None => assert_eq!(now, was, "{name} changed, not given; {context}"),
            },
            // 3: the existing person is left unchanged.
            _ => assert_eq!(now, was, "{name} changed; {context}"),
        }
    }
    let unknown: Vec<_> = after
        .keys()
        .filter(|name| !NAMES.contains(&name.as_str()))
        .collect();
    assert!(unknown.is_empty(), "{unknown:?}; {context}");
}

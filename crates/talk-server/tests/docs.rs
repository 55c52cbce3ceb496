//! docs/api.md can't rot: its curl example's body runs against the server, and its response
//! example has the real response's shape. Blocks are found by their `docs-test:` markers.

mod common;

use axum::http::StatusCode;
use common::test_app;
use serde_json::Value;
use std::collections::BTreeSet;
use talk_server::Settings;

fn api_doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md");
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The fenced block right after the line with `<!-- docs-test: {marker}`.
fn marked_block(doc: &str, marker: &str) -> String {
    let tag = format!("<!-- docs-test: {marker}");
    let mut lines = doc
        .lines()
        .skip_while(|line| !line.starts_with(&tag))
        .skip(1);
    let fence = lines
        .next()
        .unwrap_or_else(|| panic!("no block marked {marker}"));
    assert!(
        fence.starts_with("```"),
        "{marker}: expected a fence, got {fence:?}"
    );
    lines
        .take_while(|line| !line.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The body of `<<'JSON'` … `JSON` in a shell block.
fn heredoc(block: &str) -> Value {
    let body: Vec<&str> = block
        .lines()
        .skip_while(|line| !line.ends_with("<<'JSON'"))
        .skip(1)
        .take_while(|line| *line != "JSON")
        .collect();
    assert!(!body.is_empty(), "no <<'JSON' heredoc in:\n{block}");
    serde_json::from_str(&body.join("\n")).unwrap_or_else(|error| panic!("heredoc: {error}"))
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn the_documented_session_request_works_and_answers_the_documented_shape() {
    let doc = api_doc();
    let curl = marked_block(&doc, "talk-session-request");
    let demo_url = Settings::default().public_url;
    for part in [
        "-X POST".to_string(),
        format!("{demo_url}/v1/talk/session"),
        "-H \"X-Api-Key: $TALK_API_KEY\"".to_string(),
        "-H 'Content-Type: application/json'".to_string(),
    ] {
        assert!(curl.contains(&part), "the curl example lacks {part:?}");
    }
    let body = heredoc(&curl);
    let documented = marked_block(&doc, "talk-session-response");
    let documented: Value = serde_json::from_str(&documented).unwrap();

    let app = test_app().await;
    let first = app.talk_session(body.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let first = first.json();
    assert_eq!(keys(&first), keys(&documented));
    assert_eq!(first["person_status"], documented["person_status"]);

    let again = app.talk_session(body.clone()).await.json();
    assert_eq!(again["person_status"], "by-merge-field");
    assert_eq!(again["person_id"], first["person_id"]);

    // Every documented field is stored with its type.
    let person = &app
        .person_profile(first["person_id"].as_str().unwrap())
        .await["person"];
    for (name, value) in body["fields"].as_object().unwrap() {
        assert_eq!(&person["fields"][name], value, "{name}");
    }
    assert_eq!(person["last_seen_ip"], body["location"]["source_ip"]);
}

//! The operator contract of the built binary.

use std::process::Command;

#[test]
fn workspace_create_prints_one_json_object_and_stores_no_plain_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("talk.db");
    let output = Command::new(env!("CARGO_BIN_EXE_talk-server"))
        .args(["workspace", "create", "--name", "Acme", "--json"])
        .current_dir(dir.path())
        .env(
            "TALK_DATABASE_URL",
            format!("sqlite://{}", database.display()),
        )
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let stdout = String::from_utf8(output.stdout).unwrap();
    let created: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("stdout is not one JSON object ({error}): {stdout}"));
    for key in ["capture_key", "api_key", "admin_email", "admin_password"] {
        assert!(
            created[key].as_str().is_some_and(|value| !value.is_empty()),
            "{key} missing in {stdout}"
        );
    }
    assert_eq!(stdout.trim().lines().count(), 1);
    let api_key = created["api_key"].as_str().unwrap();
    assert!(api_key.starts_with("talk_sk_"));
    assert!(created["capture_key"]
        .as_str()
        .unwrap()
        .starts_with("talk_pk_"));

    // Every file of the database (WAL included) holds only the key's hash.
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        if text.contains(api_key) || text.contains(created["admin_password"].as_str().unwrap()) {
            found.push(path);
        }
    }
    assert!(
        found.is_empty(),
        "secrets stored in plain text in {found:?}"
    );
    assert!(database.exists());
}

#[test]
fn invalid_config_path_fails_cleanly() {
    let output = Command::new(env!("CARGO_BIN_EXE_talk-server"))
        .args([
            "--config",
            "/nonexistent/talk.toml",
            "workspace",
            "create",
            "--name",
            "X",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
}

//! The operator contract of the built binary.

#[allow(dead_code)]
#[path = "common/sql.rs"]
mod sql;

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

fn talk_server(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_talk-server"))
        .args(args)
        .env("TALK_DATABASE_URL", database_url)
        .output()
        .unwrap()
}

fn json_line(output: &std::process::Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// On SQLite, or on PostgreSQL under `scripts/postgres.sh`.
#[tokio::test]
async fn keys_rotate_and_retire_print_json() {
    let dir = tempfile::tempdir().unwrap();
    let database = sql::test_database_url(dir.path()).await;
    let database = database.as_str();
    let created = json_line(&talk_server(
        database,
        &["workspace", "create", "--name", "Acme", "--json"],
    ));
    let workspace_id = created["workspace_id"].as_str().unwrap();

    let first = json_line(&talk_server(
        database,
        &["keys", "rotate", "--workspace", workspace_id],
    ));
    assert_eq!(first["workspace_id"], workspace_id);
    let first_kid = first["kid"].as_str().unwrap();
    let second = json_line(&talk_server(
        database,
        &["keys", "rotate", "--workspace", workspace_id],
    ));
    let second_kid = second["kid"].as_str().unwrap();
    assert_ne!(first_kid, second_kid);

    let retired = json_line(&talk_server(
        database,
        &[
            "keys",
            "retire",
            "--workspace",
            workspace_id,
            "--kid",
            first_kid,
        ],
    ));
    assert_eq!(
        retired,
        serde_json::json!({"workspace_id": workspace_id, "kid": first_kid, "retired": true})
    );

    // The key that signs new tokens can't be retired, nor a key that doesn't exist.
    for kid in [second_kid, "nope"] {
        let refused = talk_server(
            database,
            &["keys", "retire", "--workspace", workspace_id, "--kid", kid],
        );
        assert!(!refused.status.success(), "{kid}");
        assert!(refused.stdout.is_empty());
        assert!(String::from_utf8_lossy(&refused.stderr).contains(kid));
    }
}

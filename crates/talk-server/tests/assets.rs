//! How the built files travel: the build's brotli or gzip copy by `Accept-Encoding`, a year
//! of caching for content-hashed names, and `/app.js` revalidated by its ETag. Runs on the
//! real builds when they are there (`scripts/test.sh` makes them first), else on a fixture
//! laid out as the builds lay theirs out.

mod common;

use axum::http::{Method, StatusCode};
use common::{test_app_with, Answer, TestApp};
use std::path::{Path, PathBuf};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const ENCODINGS: [(&str, Option<&str>); 3] =
    [("br", Some("br")), ("gzip", Some("gzip")), ("", None)];

/// The widget's and the inbox's builds, or a fixture in `scratch` when either is missing.
fn builds(scratch: &Path) -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let widget = std::env::var_os("TALK_WIDGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("dist"));
    let inbox = std::env::var_os("TALK_INBOX_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("crates/talk-inbox/dist"));
    if widget.join("loader/manifest.json").is_file() && inbox.join("index.html").is_file() {
        return (widget, inbox);
    }
    eprintln!("no widget or inbox build: serving a fixture");
    let (widget, inbox) = (scratch.join("dist"), scratch.join("inbox"));
    let write = |dir: &Path, file: &str, bytes: &[u8]| {
        std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
        std::fs::write(dir.join(file), bytes).unwrap();
    };
    for file in [
        "talk-widget-0123456789abcdef.js",
        "talk-widget-0123456789abcdef_bg.wasm",
        "embed-fedcba9876543210.js",
        "loader/app.js",
        "talk-inbox-0123456789abcdef.js",
    ] {
        let dir = if file.starts_with("talk-inbox") {
            &inbox
        } else {
            &widget
        };
        write(
            dir,
            file,
            format!("{file}, as built, {}", "long ".repeat(40)).as_bytes(),
        );
        write(dir, &format!("{file}.br"), b"brotli");
        write(dir, &format!("{file}.gz"), b"gzip, a little longer");
    }
    // A file too small to gain from compression has no copies: sent as it is.
    write(&widget, "frame-00112233aabbccdd.js", b"import('./x.js')");
    write(
        &widget,
        "loader/manifest.json",
        br#"{"talk-widget.js": "talk-widget-0123456789abcdef.js",
             "talk-widget_bg.wasm": "talk-widget-0123456789abcdef_bg.wasm",
             "embed.js": "embed-fedcba9876543210.js", "frame.js": "frame-00112233aabbccdd.js"}"#,
    );
    write(&inbox, "index.html", b"<!doctype html>");
    (widget, inbox)
}

/// The loader build's plain names → served names.
fn manifest(widget: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(widget.join("loader/manifest.json")).unwrap()).unwrap()
}

/// Each content-hashed file of both builds, as (URL path, file on disk).
fn hashed_files(widget: &Path, inbox: &Path) -> Vec<(String, PathBuf)> {
    let mut files: Vec<(String, PathBuf)> = manifest(widget)
        .as_object()
        .unwrap()
        .values()
        .map(|name| name.as_str().unwrap())
        .map(|name| (format!("/widget/{name}"), widget.join(name)))
        .collect();
    for entry in std::fs::read_dir(inbox).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if [".js", ".wasm", ".css"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            files.push((format!("/inbox/{name}"), inbox.join(&name)));
        }
    }
    assert!(files.len() >= 5, "the builds' files: {files:?}");
    files
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Answer {
    app.send(Method::GET, path, headers, None).await
}

/// The copy of `file` a client taking `encoding` gets: the compressed one when the build wrote
/// it, else the file itself.
fn expected(file: &Path, encoding: Option<&str>) -> (Option<&'static str>, Vec<u8>) {
    let suffix = match encoding {
        Some("br") => Some((".br", "br")),
        Some(_) => Some((".gz", "gzip")),
        None => None,
    };
    if let Some((suffix, token)) = suffix {
        let mut copy = file.as_os_str().to_owned();
        copy.push(suffix);
        if let Ok(bytes) = std::fs::read(copy) {
            return (Some(token), bytes);
        }
    }
    (None, std::fs::read(file).unwrap())
}

fn assert_sent(answer: &Answer, path: &str, file: &Path, accept: &str, encoding: Option<&str>) {
    let (wanted_encoding, wanted_body) = expected(file, encoding);
    assert_eq!(answer.status, StatusCode::OK, "{path} ({accept})");
    assert_eq!(
        answer
            .headers
            .get("content-encoding")
            .map(|v| v.to_str().unwrap()),
        wanted_encoding,
        "{path} ({accept})"
    );
    let vary: Vec<&str> = answer
        .headers
        .get_all("vary")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .map(str::trim)
        .collect();
    assert!(vary.contains(&"accept-encoding"), "{path}: vary {vary:?}");
    assert_eq!(
        answer.header("content-length"),
        wanted_body.len().to_string(),
        "{path} ({accept})"
    );
    assert!(
        answer.bytes == wanted_body,
        "{path} ({accept}): not the file on disk"
    );
}

#[tokio::test]
async fn hashed_files_are_sent_precompressed_and_cached_for_a_year() {
    let scratch = tempfile::tempdir().unwrap();
    let (widget, inbox) = builds(scratch.path());
    let app = test_app_with(|settings| {
        settings.widget_dir = widget.clone();
        settings.inbox_dir = inbox.clone();
    })
    .await;
    for (path, file) in hashed_files(&widget, &inbox) {
        for (accept, encoding) in ENCODINGS {
            let headers: &[(&str, &str)] = if accept.is_empty() {
                &[]
            } else {
                &[("accept-encoding", accept)]
            };
            let answer = get(&app, &path, headers).await;
            assert_sent(&answer, &path, &file, accept, encoding);
            assert_eq!(answer.header("cache-control"), IMMUTABLE, "{path}");
        }
    }
    // A client that takes both gets brotli, unless it prefers gzip.
    let wasm = format!(
        "/widget/{}",
        manifest(&widget)["talk-widget_bg.wasm"].as_str().unwrap()
    );
    let both = get(
        &app,
        &wasm,
        &[("accept-encoding", "gzip, deflate, br, zstd")],
    )
    .await;
    assert_eq!(both.header("content-encoding"), "br");
    let gzip_first = get(&app, &wasm, &[("accept-encoding", "br;q=0.5, gzip")]).await;
    assert_eq!(gzip_first.header("content-encoding"), "gzip");
}

#[tokio::test]
async fn only_the_loader_and_the_pages_are_revalidated() {
    let scratch = tempfile::tempdir().unwrap();
    let (widget, inbox) = builds(scratch.path());
    let app = test_app_with(|settings| {
        settings.widget_dir = widget.clone();
        settings.inbox_dir = inbox.clone();
        settings.demo_page = true;
    })
    .await;
    let app_js = widget.join("loader/app.js");
    let mut etag = String::new();
    for (accept, encoding) in ENCODINGS {
        let headers: &[(&str, &str)] = if accept.is_empty() {
            &[]
        } else {
            &[("accept-encoding", accept)]
        };
        let answer = get(&app, "/app.js", headers).await;
        assert_sent(&answer, "/app.js", &app_js, accept, encoding);
        assert_eq!(answer.header("cache-control"), "public, max-age=300");
        assert!(
            answer.header("etag").starts_with("W/\""),
            "{:?}",
            answer.headers
        );
        // One tag for every encoding: the content is the same.
        assert!(etag.is_empty() || etag == answer.header("etag"));
        etag = answer.header("etag").to_string();
    }
    let unchanged = get(
        &app,
        "/app.js",
        &[("if-none-match", &etag), ("accept-encoding", "br")],
    )
    .await;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
    assert!(unchanged.bytes.is_empty());
    assert_eq!(unchanged.header("etag"), etag);
    assert_eq!(unchanged.header("cache-control"), "public, max-age=300");
    let changed = get(
        &app,
        "/app.js",
        &[("if-none-match", "W/\"0000000000000000\"")],
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK);

    // The pages, and what has no hash in its name.
    let frame = format!("/widget/frame?capture_key={}", app.workspace.capture_key);
    let demo = format!("/demo?capture_key={}", app.workspace.capture_key);
    for path in [frame.as_str(), "/inbox/", "/inbox/settings", demo.as_str()] {
        let page = get(&app, path, &[("accept-encoding", "br, gzip")]).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_eq!(page.header("cache-control"), "no-cache", "{path}");
    }
    let manifest = get(&app, "/widget/loader/manifest.json", &[]).await;
    assert_eq!(manifest.header("cache-control"), "no-cache");
}

#[tokio::test]
async fn the_frame_page_names_the_built_frame_script() {
    let scratch = tempfile::tempdir().unwrap();
    let (widget, inbox) = builds(scratch.path());
    let frame_script = manifest(&widget)["frame.js"].as_str().unwrap().to_string();
    let app = test_app_with(|settings| {
        settings.widget_dir = widget.clone();
        settings.inbox_dir = inbox.clone();
    })
    .await;
    let page = get(
        &app,
        &format!("/widget/frame?capture_key={}", app.workspace.capture_key),
        &[],
    )
    .await;
    let tag = format!(r#"<script type="module" src="/widget/{frame_script}">"#);
    assert!(page.text.contains(&tag), "{}", page.text);
    let script = get(&app, &format!("/widget/{frame_script}"), &[]).await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(script.header("content-type"), "text/javascript");
}

//! The loader, the messenger's frame page, the demo host page and the inbox's page.

use super::security;
use super::static_files::Precompressed;
use super::widget_config::{queried_workspace, unknown_capture_key, ConfigQuery};
use crate::error::{ApiError, ApiResult};
use crate::workspaces;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// The loader's readable source, compiled in: sent when no build is at hand. It draws the
/// launcher; the messenger it then imports needs the build.
const LOADER_SOURCE: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../loader/app.js"));
const DEMO_PAGE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.html"));
const FRAME_PAGE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/frame.html"));

/// `/app.js`, revalidated after a few minutes: the only name the snippet knows. Everything
/// else is fetched by a content-hashed name that it names, directly or through embed.js.
const LOADER_CACHE: &str = "public, max-age=300";

/// The loader as sent, read once at start from the build in `{widget_dir}/loader/` (made by
/// `scripts/build-widget.sh`): `app.js` with its compressed copies, and the frame page naming
/// the build's frame script (`manifest.json`). Without a build: the readable sources.
#[derive(Debug)]
pub struct LoaderScripts {
    app: Precompressed,
    frame_page: String,
}

impl LoaderScripts {
    pub fn load(widget_dir: &Path) -> Self {
        let built = widget_dir.join("loader");
        let app = Precompressed::read(&built.join("app.js")).unwrap_or_else(|| {
            Precompressed::identity(Bytes::from_static(LOADER_SOURCE.as_bytes()))
        });
        let frame_script = std::fs::read_to_string(built.join("manifest.json"))
            .ok()
            .and_then(|manifest| serde_json::from_str::<HashMap<String, String>>(&manifest).ok())
            .and_then(|mut names| names.remove("frame.js"))
            .unwrap_or_else(|| "frame.js".to_string());
        LoaderScripts {
            app,
            frame_page: FRAME_PAGE.replace("{{FRAME_SCRIPT}}", &frame_script),
        }
    }
}

/// `/app.js`, on every page view of every site.
pub async fn loader_script(State(state): State<AppState>, headers: HeaderMap) -> Response {
    state
        .loader_scripts
        .app
        .respond(&headers, "text/javascript; charset=utf-8", LOADER_CACHE)
}

/// `/widget/frame?capture_key=…`: the page the messenger runs in when the host page's CSP
/// refuses WebAssembly, under our own strict policy. Only the workspace's allowed origins may
/// frame it (any origin while it has none, as for the other browser endpoints).
pub async fn frame_page(
    State(state): State<AppState>,
    query: Result<Query<ConfigQuery>, QueryRejection>,
) -> ApiResult<impl IntoResponse> {
    let workspace = queried_workspace(&state, query).await?;
    let csp = security::frame_page_csp(&state.settings, &workspace.allowed_origins());
    Ok((
        [
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        Html(state.loader_scripts.frame_page.clone()),
    ))
}

#[derive(Deserialize)]
pub struct DemoQuery {
    capture_key: Option<String>,
}

pub async fn demo_page(
    State(state): State<AppState>,
    Query(query): Query<DemoQuery>,
) -> ApiResult<impl IntoResponse> {
    if !state.settings.demo_page {
        return Err(ApiError::not_found("not_found", "no such path"));
    }
    let workspace = match &query.capture_key {
        Some(capture_key) => workspaces::by_capture_key(&state.db, capture_key).await?,
        None => workspaces::oldest(&state.db).await?,
    }
    .ok_or_else(unknown_capture_key)?;
    let public_url = &state.settings.public_url;
    let nonce = security::new_nonce();
    let page = DEMO_PAGE
        .replace("{{NONCE}}", &nonce)
        .replace("{{CAPTURE_KEY}}", &js_string(&workspace.capture_key))
        .replace("{{API_URL}}", &js_string(&format!("{public_url}/")))
        .replace(
            "{{LOADER_URL}}",
            &js_string(&format!("{public_url}/app.js")),
        );
    let csp = security::snippet_page_csp(&state.settings, &nonce);
    Ok((
        [
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        Html(page),
    ))
}

/// A JavaScript string literal that can't close the surrounding `<script>` element.
fn js_string(value: &str) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|_| "\"\"".to_string())
        .replace('<', "\\u003c")
}

/// What Trunk writes where each inline script's nonce goes (`create_nonce` in the inbox's
/// Trunk.toml).
const TRUNK_NONCE: &str = "{{__TRUNK NONCE__}}";

/// The inbox's `index.html`, for `/inbox/` and every path under it that is not a file (the
/// app routes itself), with a fresh nonce for Trunk's inline bootstrap script. The inbox
/// embeds the real widget for its live preview, so it gets the snippet page's policy.
pub async fn inbox_page(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let index = state.settings.inbox_dir.join("index.html");
    let page = match tokio::fs::read_to_string(&index).await {
        Ok(page) => page,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::not_found(
                "inbox_not_built",
                "the inbox is not built: run scripts/build-inbox.sh (or set TALK_INBOX_DIR)",
            ))
        }
        Err(error) => return Err(ApiError::Internal(error.to_string())),
    };
    let nonce = security::new_nonce();
    let page = page.replace(TRUNK_NONCE, &nonce);
    let csp = security::snippet_page_csp(&state.settings, &nonce);
    Ok((
        [
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        Html(page),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn js_string_cannot_close_the_script() {
        assert_eq!(super::js_string("</script>\""), r#""\u003c/script>\"""#);
    }
}

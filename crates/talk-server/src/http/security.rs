//! Security headers on every response, and the Content-Security-Policy of the HTML pages the
//! server renders itself.

use crate::Settings;
use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

/// For everything that is not one of our HTML pages: nothing may load, nothing may frame it.
const DEFAULT_CSP: &str =
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Middleware: nosniff on every answer. On anything that may become a document, also a
/// referrer policy, and `X-Frame-Options: DENY` and a default CSP unless the handler set its
/// own. The messenger's frame page (`/widget/frame`) gets no `X-Frame-Options`: customers'
/// pages frame it, and its own CSP's `frame-ancestors` says which. Scripts, stylesheets,
/// WebAssembly, `204`s and `304`s get nosniff alone: they never become a document (a `204` has
/// no content, and a navigation answered by one stays on the page it was on; a `304` keeps the
/// headers the cache holds), and `/app.js`, `launcher.css` and the page view's `204` go with
/// every page view of every site. Anything else under `/widget/` (Trunk's preview page, if a
/// build still holds one) is locked down like the rest.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let framable = request.uri().path() == "/widget/frame";
    let mut response = next.run(request).await;
    let never_a_document = matches!(
        response.status(),
        StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
    ) || response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            ["text/javascript", "text/css", "application/wasm"]
                .iter()
                .any(|kind| value.starts_with(kind))
        });
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if never_a_document {
        // The referrer policy would be the browsers' default anyway; these answers go with
        // every page view, and /app.js must stay under 1.5 KB on the wire, headers included.
        return response;
    }
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    if !framable {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(DEFAULT_CSP));
    response
}

/// A fresh nonce for one page's inline script.
pub fn new_nonce() -> String {
    crate::db::random_hex(16)
}

/// A strict (level 3) policy for a page that runs the capture snippet: only the inline script
/// carrying `nonce` runs, and what it loads (`'strict-dynamic'`): the loader, then the widget,
/// which compiles WebAssembly and talks to this server over HTTP and WebSocket.
pub fn snippet_page_csp(settings: &Settings, nonce: &str) -> String {
    let server = &settings.public_url;
    let socket = settings.public_ws_url();
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         connect-src 'self' {server} {socket}; img-src 'self' {server} https: data:; \
         style-src 'self'; font-src 'self'; frame-src {server}; base-uri 'none'; \
         object-src 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The messenger's frame page: our own scripts and WebAssembly, our own API (HTTP and
/// WebSocket), images from anywhere on https (logos, photos), no media (the sound is Web
/// Audio's), and framed only by `ancestors` (any page when empty). Origins that are not plain
/// `scheme://host[:port]` are left out: they would change the policy's meaning.
pub fn frame_page_csp(settings: &Settings, ancestors: &[String]) -> String {
    let socket = settings.public_ws_url();
    let ancestors: Vec<&str> = ancestors
        .iter()
        .map(|origin| origin.trim_end_matches('/'))
        .filter(|origin| is_plain_origin(origin))
        .collect();
    let ancestors = if ancestors.is_empty() {
        "*".to_string()
    } else {
        ancestors.join(" ")
    };
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' {socket}; \
         img-src 'self' https: data:; style-src 'self'; font-src 'self'; base-uri 'none'; \
         form-action 'none'; frame-ancestors {ancestors}"
    )
}

fn is_plain_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':')
}

//! `POST /v1/talk/track` (browser, public capture key): records a page view for agents'
//! browsing history. Answers 204 and nothing else: visitors never read history back. The body
//! may come as `text/plain`, so the loader sends it as a CORS simple request (no preflight): the
//! endpoint takes the public capture key and visitor id from the body and reads no cookie, so
//! a request a foreign page makes a browser send carries nothing any client couldn't send.

use super::widget::browser_workspace;
use super::PlainOrJson;
use crate::error::{ApiError, ApiResult};
use crate::page_views::{self, NewPageView};
use crate::people;
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use talk_protocol::{TrackRequest, MAX_TITLE_CHARS, MAX_URL_BYTES};

fn is_web_url(text: &str) -> bool {
    url::Url::parse(text)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
}

fn checked_url(url: &str) -> ApiResult<&str> {
    let url = url.trim();
    if url.len() > MAX_URL_BYTES || !is_web_url(url) {
        return Err(ApiError::bad_request(
            "invalid_url",
            format!("url must be an absolute http(s) URL of at most {MAX_URL_BYTES} bytes"),
        ));
    }
    Ok(url)
}

/// A trimmed optional text; blank means none.
fn present(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

fn checked_title(title: Option<&str>) -> ApiResult<Option<&str>> {
    let title = present(title);
    if title.is_some_and(|title| title.chars().count() > MAX_TITLE_CHARS) {
        return Err(ApiError::bad_request(
            "field_too_long",
            format!("title is longer than {MAX_TITLE_CHARS} characters"),
        ));
    }
    Ok(title)
}

/// Like the page URL, a referrer (when given) must be http(s): agents may open it.
fn checked_referrer(referrer: Option<&str>) -> ApiResult<Option<&str>> {
    let referrer = present(referrer);
    match referrer {
        Some(referrer) if referrer.len() > MAX_URL_BYTES => Err(ApiError::bad_request(
            "field_too_long",
            format!("referrer is longer than {MAX_URL_BYTES} bytes"),
        )),
        Some(referrer) if !is_web_url(referrer) => Err(ApiError::bad_request(
            "invalid_url",
            "referrer must be an absolute http(s) URL, or empty",
        )),
        referrer => Ok(referrer),
    }
}

pub async fn track(
    State(state): State<AppState>,
    headers: HeaderMap,
    PlainOrJson(request): PlainOrJson<TrackRequest>,
) -> ApiResult<StatusCode> {
    let workspace =
        browser_workspace(&state, &headers, &request.capture_key, &request.visitor_id).await?;
    let view = NewPageView {
        url: checked_url(&request.url)?,
        title: checked_title(request.title.as_deref())?,
        referrer: checked_referrer(request.referrer.as_deref())?,
    };
    people::upsert_visitor(&state.db, &workspace.id, &request.visitor_id).await?;
    page_views::record(&state.db, &workspace.id, &request.visitor_id, view).await?;
    Ok(StatusCode::NO_CONTENT)
}

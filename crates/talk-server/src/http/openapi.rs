//! `GET /v1/openapi.json`: the hand-maintained OpenAPI document of the REST API
//! (`assets/openapi.json`; tests/openapi.rs keeps it in step with the router).

use axum::http::header;
use axum::response::IntoResponse;

pub const DOCUMENT: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/openapi.json"));

pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

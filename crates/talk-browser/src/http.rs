//! The fetch both API clients are built on (gloo-net's `http`): a JSON body in, the answer's
//! JSON out (through the browser's parser, `crate::json`), and the server's error body turned
//! into one error type.

use crate::text::{concat, decimal};
use gloo_net::http::{Method, RequestBuilder};
use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::JsValue;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The request never got an answer (offline, blocked, server down).
    Network(String),
    /// The server answered with an error (its error body, or `http_error` without one).
    Server {
        status: u16,
        code: String,
        message: String,
    },
    /// The answer was not what the protocol says.
    Decode(String),
}

impl ApiError {
    /// The stable code: the server's, or `network` / `decode` for what went wrong here.
    pub fn code(&self) -> &str {
        match self {
            ApiError::Network(_) => "network",
            ApiError::Server { code, .. } => code,
            ApiError::Decode(_) => "decode",
        }
    }
}

/// Sends `body` (if any) as JSON and decodes a 2xx answer as `Res`.
pub async fn fetch_json<Req: Serialize, Res: DeserializeOwned>(
    method: &str,
    url: &str,
    body: Option<&Req>,
    bearer: Option<&str>,
) -> Result<Res, ApiError> {
    let text = fetch_text(method, url, body, bearer).await?;
    crate::json::parse(&text).map_err(ApiError::Decode)
}

/// Sends `body` (if any) as JSON; the answer's text on a 2xx, else the server's error.
/// Same-origin requests carry the page's cookies (fetch's default).
pub async fn fetch_text<Req: Serialize>(
    method: &str,
    url: &str,
    body: Option<&Req>,
    bearer: Option<&str>,
) -> Result<String, ApiError> {
    let json = body
        .map(crate::json::stringify)
        .transpose()
        .map_err(ApiError::Decode)?;
    send(method, url, json, bearer).await
}

/// [`fetch_text`] after the body is written: one copy of the request code for every body type
/// (each generic instantiation of it was another copy in the WASM).
pub async fn send(
    method: &str,
    url: &str,
    json: Option<String>,
    bearer: Option<&str>,
) -> Result<String, ApiError> {
    let method = match method {
        "GET" => Method::GET,
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "PATCH" => Method::PATCH,
        "DELETE" => Method::DELETE,
        _ => return Err(ApiError::Network("unsupported method".into())),
    };
    let mut request = RequestBuilder::new(url).method(method);
    if json.is_some() {
        request = request.header("Content-Type", "application/json");
    }
    if let Some(token) = bearer {
        // Tokens travel in headers, never in URLs.
        request = request.header("Authorization", &concat(&["Bearer ", token]));
    }
    let request = match json {
        Some(json) => request.body(json),
        None => request.build(),
    }
    .map_err(network_error)?;
    let response = request.send().await.map_err(network_error)?;
    let text = response.text().await.map_err(network_error)?;
    if response.ok() {
        return Ok(text);
    }
    let status = response.status();
    Err(match error_body(&text) {
        Some((code, message)) => ApiError::Server {
            status,
            code,
            message,
        },
        None => ApiError::Server {
            status,
            code: "http_error".into(),
            message: concat(&["The server answered ", &decimal(status.into(), 0), "."]),
        },
    })
}

/// `{"error": {"code", "message"}}` ([`talk_protocol::ErrorBody`]), read from the browser's
/// parse rather than through serde: every request of the widget carries this path, and
/// serde's deserializer would come with it (see the widget's `decode.rs`).
pub(crate) fn error_body(text: &str) -> Option<(String, String)> {
    let body = js_sys::JSON::parse(text).ok()?;
    let get = |object: &JsValue, key: &str| {
        // Reflect.get throws on a non-object, which ends in None.
        js_sys::Reflect::get(object, &JsValue::from_str(key)).ok()
    };
    let error = get(&body, "error")?;
    Some((
        get(&error, "code")?.as_string()?,
        get(&error, "message")?.as_string()?,
    ))
}

/// The error's message, without `Display`: gloo-net's error type has a serde_json variant
/// (the inbox's `leptos` turns on gloo-net's `json` feature), whose `Display` would pull
/// serde_json's messages into the WASM.
fn network_error(error: gloo_net::Error) -> ApiError {
    #[allow(unreachable_patterns)] // without the `json` feature there is no third variant
    let message = match error {
        gloo_net::Error::JsError(error) => error.message,
        gloo_net::Error::GlooError(message) => message,
        _ => String::new(),
    };
    ApiError::Network(message)
}

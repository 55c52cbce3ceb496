//! The fetch both API clients are built on: a JSON body in, the answer's JSON out, and the
//! server's error body turned into one error type.

use serde::{de::DeserializeOwned, Serialize};
use talk_protocol::ErrorBody;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

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
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(json) = &json {
        init.set_body(&JsValue::from_str(json));
    }
    let request = Request::new_with_str_and_init(url, &init).map_err(network_error)?;
    let headers = request.headers();
    if json.is_some() {
        let _ = headers.set("Content-Type", "application/json");
    }
    if let Some(token) = bearer {
        // Tokens travel in headers, never in URLs.
        let _ = headers.set("Authorization", &format!("Bearer {token}"));
    }
    let window = web_sys::window().ok_or_else(|| ApiError::Network("no window".into()))?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(network_error)?
        .unchecked_into();
    let text = JsFuture::from(response.text().map_err(network_error)?)
        .await
        .map_err(network_error)?
        .as_string()
        .unwrap_or_default();
    if response.ok() {
        return Ok(text);
    }
    let status = response.status();
    Err(match crate::json::parse::<ErrorBody>(&text) {
        Ok(body) => ApiError::Server {
            status,
            code: body.error.code,
            message: body.error.message,
        },
        Err(_) => ApiError::Server {
            status,
            code: "http_error".into(),
            message: format!("The server answered {status}."),
        },
    })
}

fn network_error(value: JsValue) -> ApiError {
    ApiError::Network(
        value
            .as_string()
            .or_else(|| {
                js_sys::JSON::stringify(&value)
                    .ok()
                    .and_then(|text| text.as_string())
            })
            .unwrap_or_default(),
    )
}

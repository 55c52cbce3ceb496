//! Typed client for the Talk server's browser endpoints.

use crate::i18n::Texts;
use serde::{de::DeserializeOwned, Serialize};
use talk_protocol::{
    ErrorBody, IdentifyRequest, IdentifyResponse, WidgetConfig, WidgetSessionRequest,
    WidgetSessionResponse,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The request never got an answer (offline, blocked, server down).
    Network(String),
    /// The server answered with an error body.
    Server {
        status: u16,
        code: String,
        message: String,
    },
    /// The answer was not what the protocol says.
    Decode(String),
}

impl ApiError {
    pub fn code(&self) -> &str {
        match self {
            ApiError::Network(_) => "network",
            ApiError::Server { code, .. } => code,
            ApiError::Decode(_) => "decode",
        }
    }
}

impl ApiError {
    /// What the visitor reads. The server's messages say what to fix; ours are translated.
    pub fn user_message(&self, texts: &Texts) -> String {
        match self {
            ApiError::Network(_) => texts.network_error.to_string(),
            ApiError::Server { message, .. } => message.clone(),
            ApiError::Decode(_) => texts.unexpected_answer.to_string(),
        }
    }
}

fn js_error(value: JsValue) -> String {
    value
        .as_string()
        .or_else(|| {
            js_sys::JSON::stringify(&value)
                .ok()
                .and_then(|s| s.as_string())
        })
        .unwrap_or_default()
}

#[derive(Clone, Debug)]
pub struct ApiClient {
    base: String,
}

impl ApiClient {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
        }
    }

    pub async fn widget_session(
        &self,
        request: &WidgetSessionRequest,
    ) -> Result<WidgetSessionResponse, ApiError> {
        self.post("/v1/talk/widget/session", request, None).await
    }

    /// The workspace's public widget settings and status (the capture key is public).
    pub async fn widget_config(&self, capture_key: &str) -> Result<WidgetConfig, ApiError> {
        let key = String::from(js_sys::encode_uri_component(capture_key));
        self.request(
            "GET",
            &format!("/v1/talk/widget/config?capture_key={key}"),
            None,
            None,
        )
        .await
    }

    pub async fn identify(
        &self,
        session_token: &str,
        request: &IdentifyRequest,
    ) -> Result<IdentifyResponse, ApiError> {
        self.post("/v1/talk/identify", request, Some(session_token))
            .await
    }

    async fn post<Req: Serialize, Res: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
        bearer: Option<&str>,
    ) -> Result<Res, ApiError> {
        let json = crate::json::stringify(body).map_err(ApiError::Decode)?;
        self.request("POST", path, Some(&json), bearer).await
    }

    async fn request<Res: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        json: Option<&str>,
        bearer: Option<&str>,
    ) -> Result<Res, ApiError> {
        let init = RequestInit::new();
        init.set_method(method);
        if let Some(json) = json {
            init.set_body(&JsValue::from_str(json));
        }
        let request = Request::new_with_str_and_init(&format!("{}{path}", self.base), &init)
            .map_err(|e| ApiError::Network(js_error(e)))?;
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
            .map_err(|e| ApiError::Network(js_error(e)))?
            .unchecked_into();
        let text = JsFuture::from(
            response
                .text()
                .map_err(|e| ApiError::Network(js_error(e)))?,
        )
        .await
        .map_err(|e| ApiError::Network(js_error(e)))?
        .as_string()
        .unwrap_or_default();
        if response.ok() {
            crate::json::parse(&text).map_err(ApiError::Decode)
        } else {
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
                    message: format!("The chat service answered {status}."),
                },
            })
        }
    }
}

//! Typed client for the Talk server's browser endpoints.

use crate::decode::{self, FromJs};
use crate::encode::{to_json, ToJs};
use crate::i18n::Texts;
use talk_browser::http::send;
use talk_browser::text::concat;
use talk_protocol::{
    IdentifyRequest, IdentifyResponse, WidgetSessionRequest, WidgetSessionResponse,
};

pub use talk_browser::http::ApiError;

/// What the visitor reads. The server's messages say what to fix; ours are translated.
pub fn user_message(error: &ApiError, texts: &Texts) -> String {
    match error {
        ApiError::Network(_) => texts.network_error.to_string(),
        ApiError::Server { message, .. } => message.clone(),
        ApiError::Decode(_) => texts.unexpected_answer.to_string(),
    }
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

    /// The session, and its answer's JSON for the call module (`runtime/call.rs`).
    pub async fn widget_session(
        &self,
        request: &WidgetSessionRequest,
    ) -> Result<(WidgetSessionResponse, String), ApiError> {
        let text = self.post("/v1/talk/widget/session", request, None).await?;
        let session = decoded(Ok(text.clone()))?;
        Ok((session, text))
    }

    /// The workspace's public widget settings and status (the capture key is public), as the
    /// server's JSON: the messenger keeps a copy for the visitor's next page.
    pub async fn widget_config_json(&self, capture_key: &str) -> Result<String, ApiError> {
        let key = String::from(js_sys::encode_uri_component(capture_key));
        let url = concat(&[&self.base, "/v1/talk/widget/config?capture_key=", &key]);
        send("GET", &url, None, None).await
    }

    pub async fn identify(
        &self,
        session_token: &str,
        request: &IdentifyRequest,
    ) -> Result<IdentifyResponse, ApiError> {
        decoded(
            self.post("/v1/talk/identify", request, Some(session_token))
                .await,
        )
    }

    /// Posts `body` as JSON (`crate::encode`); one request path for every body type.
    async fn post(
        &self,
        path: &str,
        body: &dyn ToJs,
        bearer: Option<&str>,
    ) -> Result<String, ApiError> {
        let url = concat(&[&self.base, path]);
        send("POST", &url, Some(to_json(body)), bearer).await
    }
}

/// The answer, decoded by [`crate::decode`], not serde (bytes).
fn decoded<Res: FromJs>(answer: Result<String, ApiError>) -> Result<Res, ApiError> {
    decode::parse(&answer?).map_err(|error| ApiError::Decode(error.0.to_string()))
}

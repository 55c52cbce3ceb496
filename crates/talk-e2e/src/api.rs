//! The HTTP API at any node's address, for tests whose servers are processes ([`crate::Node`])
//! rather than a [`crate::TestServer`]: the agent API (API key) and a visitor's session on the
//! widget's HTTP + SSE transport, which senders and listeners without a browser use.

use crate::EventListener;
use talk_protocol::{
    AgentReplyRequest, ClientEvent, Conversation, ConversationList, IdentifyRequest, Message,
    MessageList, ServerEvent, WidgetSessionRequest, WidgetSessionResponse,
};

/// One workspace's API at one node.
#[derive(Clone)]
pub struct Api {
    pub url: String,
    pub capture_key: String,
    pub api_key: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(url: &str, workspace: &crate::Workspace) -> Api {
        Api::at(
            url,
            &workspace.capture_key,
            &workspace.api_key,
            reqwest::Client::new(),
        )
    }

    pub(crate) fn at(url: &str, capture_key: &str, api_key: &str, http: reqwest::Client) -> Api {
        Api {
            url: url.into(),
            capture_key: capture_key.into(),
            api_key: api_key.into(),
            http,
        }
    }

    /// A request with the workspace's API key; the answer's JSON, which must be a success.
    pub(crate) async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> T {
        let response = request
            .header("X-Api-Key", &self.api_key)
            .send()
            .await
            .expect("API request");
        let status = response.status();
        let text = response.text().await.expect("API body");
        assert!(status.is_success(), "API answered {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("API body {text}: {error}"))
    }

    pub async fn conversations(&self) -> Vec<Conversation> {
        let list: ConversationList = self
            .call(self.http.get(format!("{}/v1/conversations", self.url)))
            .await;
        list.conversations
    }

    /// The stored messages of a conversation, in seq order.
    pub async fn messages(&self, conversation_id: &str) -> Vec<Message> {
        let list: MessageList = self
            .call(self.http.get(format!(
                "{}/v1/conversations/{conversation_id}/messages",
                self.url
            )))
            .await;
        list.messages
    }

    /// An agent's reply through the agent API; answered once committed.
    pub async fn reply(&self, conversation_id: &str, body: &str) -> Message {
        self.call(
            self.http
                .post(format!(
                    "{}/v1/conversations/{conversation_id}/messages",
                    self.url
                ))
                .json(&AgentReplyRequest {
                    body: body.into(),
                    agent_name: Some("Grace".into()),
                    client_msg_id: None,
                }),
        )
        .await
    }

    /// A new widget session of `visitor_id`, as a widget (or another tab of it) opens one.
    pub async fn visitor(&self, visitor_id: &str) -> VisitorSession {
        let session: WidgetSessionResponse = self
            .http
            .post(format!("{}/v1/talk/widget/session", self.url))
            .json(&WidgetSessionRequest {
                capture_key: self.capture_key.clone(),
                visitor_id: visitor_id.into(),
                token: None,
                page_url: None,
            })
            .send()
            .await
            .expect("widget session")
            .json()
            .await
            .expect("session JSON");
        VisitorSession {
            url: self.url.clone(),
            token: session.session_token,
            http: self.http.clone(),
        }
    }
}

/// A visitor's session on the HTTP + SSE transport.
pub struct VisitorSession {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl VisitorSession {
    pub async fn identify(&self, email: &str) {
        let identified = self
            .http
            .post(format!("{}/v1/talk/identify", self.url))
            .bearer_auth(&self.token)
            .json(&IdentifyRequest {
                email: email.into(),
                first_name: None,
                last_name: None,
            })
            .send()
            .await
            .expect("identify");
        assert!(
            identified.status().is_success(),
            "identify: {}",
            identified.status()
        );
    }

    /// Sends a message (a new conversation without `conversation_id`) and returns it as
    /// acknowledged: committed, with its seq.
    pub async fn send(
        &self,
        conversation_id: Option<&str>,
        client_msg_id: &str,
        body: &str,
    ) -> Message {
        let response = self
            .http
            .post(format!("{}/v1/talk/messages", self.url))
            .bearer_auth(&self.token)
            .json(&ClientEvent::Send {
                conversation_id: conversation_id.map(str::to_string),
                client_msg_id: client_msg_id.into(),
                body: body.into(),
            })
            .send()
            .await
            .expect("send");
        let status = response.status();
        let text = response.text().await.expect("answers");
        assert!(status.is_success(), "send {body}: {status} {text}");
        let answers: Vec<ServerEvent> = serde_json::from_str(&text).expect("answers JSON");
        answers
            .into_iter()
            .find_map(|event| match event {
                ServerEvent::Ack { message, .. } => Some(message),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no ack for {body}: {text}"))
    }

    /// This session's event stream (SSE): what the hub fans out to its conversations.
    pub async fn listen(&self) -> EventListener {
        let response = self
            .http
            .get(format!("{}/v1/talk/messages/stream", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("event stream");
        assert!(
            response.status().is_success(),
            "stream: {}",
            response.status()
        );
        EventListener::new(response)
    }
}

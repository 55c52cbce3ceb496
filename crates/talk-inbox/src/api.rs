//! Typed client for the agent and admin API. The inbox is served by the Talk server itself, so
//! every request goes to its own origin and the `talk_agent` session cookie rides along.

use serde::{de::DeserializeOwned, Serialize};
use talk_browser::http::{fetch_json, fetch_text};
use talk_protocol::{
    AgentList, AgentMe, AgentProfile, AllowedOrigins, ApiKeyList, Contact, ConversationFilter,
    InboxConversationList, LoginRequest, Message, MessageList, NewAgentRequest, NewAgentResponse,
    NewApiKeyResponse, PasswordResponse, Presence, PresenceRequest, PreviewToken, QuotaSettings,
    QuotaStatus, StartConversationRequest, StartedConversation, UsageReport, WidgetSettings,
    WorkspaceInfo,
};

pub use talk_browser::http::ApiError;

/// What an agent is told about an error.
pub trait Explained {
    /// The session is gone: the app goes back to sign-in.
    fn is_signed_out(&self) -> bool;
    /// Our own words for the codes we know, else the server's message (which says what to fix).
    fn user_message(&self) -> String;
}

impl Explained for ApiError {
    fn is_signed_out(&self) -> bool {
        matches!(self.code(), "not_signed_in" | "session_expired")
    }

    fn user_message(&self) -> String {
        let known = match self.code() {
            "network" => "The Talk server can't be reached. Check your connection and try again.",
            "decode" => "The Talk server gave an unexpected answer. Reload the page.",
            "invalid_credentials" => "The email or password is wrong.",
            "session_expired" => "Your session expired. Sign in again.",
            "not_signed_in" => "Please sign in.",
            "rate_limited" => "Too many attempts. Wait a minute and try again.",
            "admin_only" => "Only an admin can do this.",
            "email_taken" => "This workspace already has an agent with this email.",
            "cannot_remove_self" => "You can't remove yourself. Ask another admin.",
            "invalid_email" => "The email address is not valid.",
            "invalid_color" => "Colours are written like #1f6feb.",
            "too_many_quick_links" => "There can be at most 10 quick links.",
            "too_many_origins" => "There can be at most 100 allowed origins.",
            "person_never_seen" => {
                "This person hasn't used the chat on your site yet: there is nowhere to show a message."
            }
            "preview_limit_reached" => {
                "Today's previews reached their fair-use limit. They work again tomorrow (UTC)."
            }
            "too_many_conversations" => {
                "This person has 10 open conversations already: continue or close one of them."
            }
            _ => "",
        };
        if !known.is_empty() {
            return known.to_string();
        }
        match self {
            ApiError::Server { message, .. } if !message.is_empty() => {
                format!("{} ({})", capitalised(message), self.code())
            }
            _ => format!("Something went wrong ({}).", self.code()),
        }
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The API, relative to the page's own origin.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiClient;

impl ApiClient {
    pub async fn login(&self, request: &LoginRequest) -> Result<AgentProfile, ApiError> {
        self.send("POST", "/v1/agent/login", Some(request)).await
    }

    pub async fn logout(&self) -> Result<(), ApiError> {
        self.send_empty("POST", "/v1/agent/logout", None::<&()>)
            .await
    }

    /// The signed-in agent, and the ICE servers for its calls.
    pub async fn me(&self) -> Result<AgentMe, ApiError> {
        self.get("/v1/agent/me").await
    }

    pub async fn set_presence(&self, presence: Presence) -> Result<AgentProfile, ApiError> {
        self.send(
            "PUT",
            "/v1/agent/presence",
            Some(&PresenceRequest { presence }),
        )
        .await
    }

    /// One page of the list: the first, or the one after `cursor` (a `next_cursor`).
    pub async fn conversations(
        &self,
        filter: ConversationFilter,
        cursor: Option<&str>,
    ) -> Result<InboxConversationList, ApiError> {
        self.get(&format!("/v1/agent/conversations{}", filter.query(cursor)))
            .await
    }

    /// The newest page of a conversation's messages, or the page before `before_seq`.
    pub async fn messages(
        &self,
        conversation_id: &str,
        before_seq: Option<i64>,
    ) -> Result<MessageList, ApiError> {
        let before = before_seq.map_or(String::new(), |seq| format!("&before_seq={seq}"));
        self.get(&format!(
            "/v1/agent/conversations/{}/messages?limit={}{before}",
            segment(conversation_id),
            talk_protocol::MAX_PAGE_SIZE
        ))
        .await
    }

    pub async fn contact(&self, conversation_id: &str) -> Result<Contact, ApiError> {
        self.get(&format!(
            "/v1/agent/conversations/{}/contact",
            segment(conversation_id)
        ))
        .await
    }

    /// `close`, `reopen` or `assign` (to the signed-in agent).
    pub async fn conversation_action(
        &self,
        conversation_id: &str,
        action: ConversationAction,
        agent_id: &str,
    ) -> Result<talk_protocol::Conversation, ApiError> {
        let path = format!(
            "/v1/agent/conversations/{}/{}",
            segment(conversation_id),
            action.path()
        );
        match action {
            ConversationAction::Assign => {
                let body = talk_protocol::AssignRequest {
                    agent_id: Some(agent_id.to_string()),
                };
                self.send("POST", &path, Some(&body)).await
            }
            _ => self.send("POST", &path, None::<&()>).await,
        }
    }

    pub async fn widget_settings(&self) -> Result<WidgetSettings, ApiError> {
        self.get("/v1/admin/widget-settings").await
    }

    pub async fn save_widget_settings(
        &self,
        settings: &WidgetSettings,
    ) -> Result<WidgetSettings, ApiError> {
        self.send("PUT", "/v1/admin/widget-settings", Some(settings))
            .await
    }

    pub async fn workspace(&self) -> Result<WorkspaceInfo, ApiError> {
        self.get("/v1/admin/workspace").await
    }

    pub async fn allowed_origins(&self) -> Result<AllowedOrigins, ApiError> {
        self.get("/v1/admin/allowed-origins").await
    }

    pub async fn save_allowed_origins(
        &self,
        origins: &AllowedOrigins,
    ) -> Result<AllowedOrigins, ApiError> {
        self.send("PUT", "/v1/admin/allowed-origins", Some(origins))
            .await
    }

    pub async fn agents(&self) -> Result<AgentList, ApiError> {
        self.get("/v1/admin/agents").await
    }

    pub async fn create_agent(
        &self,
        request: &NewAgentRequest,
    ) -> Result<NewAgentResponse, ApiError> {
        self.send("POST", "/v1/admin/agents", Some(request)).await
    }

    pub async fn remove_agent(&self, agent_id: &str) -> Result<(), ApiError> {
        self.send_empty(
            "DELETE",
            &format!("/v1/admin/agents/{}", segment(agent_id)),
            None::<&()>,
        )
        .await
    }

    pub async fn reset_password(&self, agent_id: &str) -> Result<PasswordResponse, ApiError> {
        self.send(
            "POST",
            &format!("/v1/admin/agents/{}/reset-password", segment(agent_id)),
            None::<&()>,
        )
        .await
    }

    pub async fn api_keys(&self) -> Result<ApiKeyList, ApiError> {
        self.get("/v1/admin/api-keys").await
    }

    pub async fn create_api_key(&self) -> Result<NewApiKeyResponse, ApiError> {
        self.send("POST", "/v1/admin/api-keys", None::<&()>).await
    }

    pub async fn revoke_api_key(&self, key_id: &str) -> Result<(), ApiError> {
        self.send_empty(
            "DELETE",
            &format!("/v1/admin/api-keys/{}", segment(key_id)),
            None::<&()>,
        )
        .await
    }

    /// A reply over HTTP. Replies normally go over the socket; this is for when it is down.
    /// Under the reply's `client_msg_id`, so a resend is stored once.
    pub async fn reply(
        &self,
        conversation_id: &str,
        client_msg_id: &str,
        body: &str,
    ) -> Result<Message, ApiError> {
        let request = talk_protocol::AgentReplyRequest {
            body: body.to_string(),
            agent_name: None,
            client_msg_id: Some(client_msg_id.to_string()),
        };
        self.send(
            "POST",
            &format!(
                "/v1/agent/conversations/{}/messages",
                segment(conversation_id)
            ),
            Some(&request),
        )
        .await
    }

    async fn get<Res: DeserializeOwned>(&self, path: &str) -> Result<Res, ApiError> {
        fetch_json("GET", path, None::<&()>, None).await
    }

    async fn send<Req: Serialize, Res: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&Req>,
    ) -> Result<Res, ApiError> {
        fetch_json(method, path, body, None).await
    }

    /// For answers without a body (204).
    async fn send_empty<Req: Serialize>(
        &self,
        method: &str,
        path: &str,
        body: Option<&Req>,
    ) -> Result<(), ApiError> {
        fetch_text(method, path, body, None).await.map(|_| ())
    }

    // Capture widgets and bots (issue 17).

    /// The workspace's capture widgets in their order, each with its counts.
    pub async fn capture_widgets(&self) -> Result<talk_protocol::CaptureWidgetList, ApiError> {
        self.get("/v1/admin/capture-widgets").await
    }

    pub async fn create_capture_widget(
        &self,
        input: &talk_protocol::CaptureWidgetInput,
    ) -> Result<talk_protocol::CaptureWidget, ApiError> {
        self.send("POST", "/v1/admin/capture-widgets", Some(input))
            .await
    }

    pub async fn save_capture_widget(
        &self,
        id: &str,
        input: &talk_protocol::CaptureWidgetInput,
    ) -> Result<talk_protocol::CaptureWidget, ApiError> {
        self.send(
            "PUT",
            &format!("/v1/admin/capture-widgets/{}", segment(id)),
            Some(input),
        )
        .await
    }

    pub async fn delete_capture_widget(&self, id: &str) -> Result<(), ApiError> {
        self.send_empty(
            "DELETE",
            &format!("/v1/admin/capture-widgets/{}", segment(id)),
            None::<&()>,
        )
        .await
    }

    /// Every capture widget's id, in the new order.
    pub async fn order_capture_widgets(&self, ids: Vec<String>) -> Result<(), ApiError> {
        let order = talk_protocol::CaptureOrder { ids };
        self.send_empty("PUT", "/v1/admin/capture-widgets/order", Some(&order))
            .await
    }

    /// The conversations a capture widget started.
    pub async fn capture_conversations(
        &self,
        id: &str,
    ) -> Result<talk_protocol::ConversationList, ApiError> {
        self.get(&format!(
            "/v1/admin/capture-widgets/{}/conversations",
            segment(id)
        ))
        .await
    }

    pub async fn bots(&self) -> Result<talk_protocol::BotList, ApiError> {
        self.get("/v1/admin/bots").await
    }

    /// Registers a bot; the answer holds its signing secret and API key, shown only now.
    pub async fn create_bot(
        &self,
        input: &talk_protocol::BotInput,
    ) -> Result<talk_protocol::BotCreated, ApiError> {
        self.send("POST", "/v1/admin/bots", Some(input)).await
    }

    pub async fn save_bot(
        &self,
        id: &str,
        input: &talk_protocol::BotInput,
    ) -> Result<talk_protocol::Bot, ApiError> {
        self.send(
            "PUT",
            &format!("/v1/admin/bots/{}", segment(id)),
            Some(input),
        )
        .await
    }

    pub async fn delete_bot(&self, id: &str) -> Result<(), ApiError> {
        self.send_empty(
            "DELETE",
            &format!("/v1/admin/bots/{}", segment(id)),
            None::<&()>,
        )
        .await
    }

    /// A bot's webhook deliveries, newest first.
    pub async fn bot_deliveries(&self, id: &str) -> Result<talk_protocol::DeliveryList, ApiError> {
        self.get(&format!("/v1/admin/bots/{}/deliveries", segment(id)))
            .await
    }

    // Conversations agents start (#17): writing first to a known person.

    /// Starts a conversation with the person, the agent's message first. Under
    /// `client_msg_id`, so a resend after a lost answer starts nothing new.
    pub async fn start_conversation(
        &self,
        person_id: &str,
        client_msg_id: &str,
        body: &str,
    ) -> Result<StartedConversation, ApiError> {
        let request = StartConversationRequest {
            body: body.to_string(),
            client_msg_id: Some(client_msg_id.to_string()),
            agent_name: None,
        };
        self.send(
            "POST",
            &format!("/v1/agent/people/{}/conversations", segment(person_id)),
            Some(&request),
        )
        .await
    }

    // Usage, quotas and previews (issue 18). Admins only.

    /// What the workspace used each UTC day from `from` to `to` (`YYYY-MM-DD`, both included).
    pub async fn usage(&self, from: &str, to: &str) -> Result<UsageReport, ApiError> {
        self.get(&format!("/v1/admin/usage?from={from}&to={to}"))
            .await
    }

    /// The quota's settings and this month's standing.
    pub async fn quota(&self) -> Result<QuotaStatus, ApiError> {
        self.get("/v1/admin/quota").await
    }

    pub async fn save_quota(&self, settings: &QuotaSettings) -> Result<QuotaStatus, ApiError> {
        self.send("PUT", "/v1/admin/quota", Some(settings)).await
    }

    /// A token that starts the settings page's preview widgets as previews.
    pub async fn preview_token(&self) -> Result<PreviewToken, ApiError> {
        self.send("POST", "/v1/admin/preview-token", None::<&()>)
            .await
    }
}

/// Ids are opaque: encode them as one path segment.
fn segment(id: &str) -> String {
    String::from(js_sys::encode_uri_component(id))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationAction {
    Close,
    Reopen,
    Assign,
}

impl ConversationAction {
    fn path(self) -> &'static str {
        match self {
            ConversationAction::Close => "close",
            ConversationAction::Reopen => "reopen",
            ConversationAction::Assign => "assign",
        }
    }
}

//! Agent and admin API bodies: the inbox's sign-in (`/v1/agent/…`) and the admin API
//! (`/v1/admin/…`). Authenticated by the `talk_agent` session cookie, never by a token in a URL.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentRole {
    Admin,
    Agent,
}

/// An agent's availability; the workspace is `online` while any agent is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    #[default]
    Away,
}

/// `POST /v1/agent/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Only needed when one email signs in to several workspaces with the same password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
}

/// The signed-in agent: `POST /v1/agent/login`, `GET /v1/agent/me`, `PUT /v1/agent/presence`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentProfile {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: AgentRole,
    pub workspace_id: String,
    pub presence: Presence,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
}

/// `PUT /v1/agent/presence`.
/// `GET /v1/agent/me`: the signed-in agent, and the STUN/TURN servers its calls use (TURN
/// credentials minted for this agent, short-lived: the inbox asks again on every start and
/// reconnect).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentMe {
    #[serde(flatten)]
    pub agent: AgentProfile,
    #[serde(default)]
    pub ice_servers: Vec<crate::IceServer>,
    #[serde(default)]
    pub ice_transport_policy: crate::IceTransportPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceRequest {
    pub presence: Presence,
}

/// `GET /v1/admin/agents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentList {
    pub agents: Vec<AgentProfile>,
}

/// `POST /v1/admin/agents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAgentRequest {
    pub email: String,
    pub name: String,
    pub role: AgentRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
}

/// `POST /v1/admin/agents` answers the new agent and its generated password, shown only now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAgentResponse {
    pub agent: AgentProfile,
    pub password: String,
}

/// `POST /v1/admin/agents/{id}/reset-password`: the new password, shown only now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordResponse {
    pub password: String,
}

/// `GET/PUT /v1/admin/allowed-origins`: `scheme://host[:port]` each; empty allows every origin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedOrigins {
    pub origins: Vec<String>,
}

/// An API key as listed: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    pub id: String,
    /// The first 8 characters of the key's secret part (after `talk_sk_`), to tell keys apart.
    /// Absent for keys created before prefixes were kept.
    pub prefix: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// `GET /v1/admin/api-keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKeyInfo>,
}

/// `POST /v1/admin/api-keys`: the key is shown only now; only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiKeyResponse {
    #[serde(flatten)]
    pub info: ApiKeyInfo,
    pub key: String,
}

/// `GET /v1/admin/workspace`: what the settings page needs to run the real widget in its
/// preview. The capture key is public (it is in every page's snippet); no secret is here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceInfo {
    pub id: String,
    pub name: String,
    pub capture_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn new_api_key_is_flat() {
        let created = NewApiKeyResponse {
            info: ApiKeyInfo {
                id: "k".into(),
                prefix: Some("0123abcd".into()),
                created_at: 1,
                revoked_at: None,
            },
            key: "talk_sk_0123abcd".into(),
        };
        assert_eq!(
            serde_json::to_value(&created).unwrap(),
            json!({"id": "k", "prefix": "0123abcd", "created_at": 1, "revoked_at": null,
                   "key": "talk_sk_0123abcd"})
        );
    }

    #[test]
    fn presence_and_role_are_snake_case() {
        assert_eq!(
            serde_json::to_value(Presence::Online).unwrap(),
            json!("online")
        );
        assert_eq!(
            serde_json::to_value(AgentRole::Admin).unwrap(),
            json!("admin")
        );
        assert!(serde_json::from_value::<AgentRole>(json!("owner")).is_err());
    }
}

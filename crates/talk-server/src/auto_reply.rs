//! The bot's auto-reply: when a visitor starts a conversation, the bot answers once with the
//! response time for the workspace's current status (online or away).

use crate::conversations::{self, NewMessage};
use crate::realtime::hub::Except;
use crate::realtime::publish;
use crate::{agents, widget_settings, AppState};
use talk_protocol::{Author, AuthorKind, Message, Presence, ServerEvent};

pub fn reply_text(response_time: &str) -> String {
    format!("Thanks for your message! {response_time}")
}

/// Posts the auto-reply to a conversation whose first message is committed, and publishes it
/// like any message. Nothing is posted when the response time for the status is empty.
pub async fn after_first_message(
    state: &AppState,
    workspace_id: &str,
    conversation_id: &str,
) -> Result<Option<Message>, crate::store::StoreError> {
    let Some(settings) = widget_settings::load(&state.db, workspace_id).await? else {
        return Ok(None);
    };
    let response_time = match agents::workspace_status(&state.db, workspace_id).await? {
        Presence::Online => settings.response_times.online,
        Presence::Away => settings.response_times.away,
    };
    if response_time.is_empty() {
        return Ok(None);
    }
    let reply = NewMessage {
        author: Author {
            kind: AuthorKind::Bot,
            name: Some(settings.homepage.bot_name),
        },
        body: reply_text(&response_time),
        client_msg_id: None,
        reopens: false,
        // Counted as an auto-reply, apart from the bots' messages (`crate::usage`).
        auto_reply: true,
    };
    let message = conversations::append(&state.messages, conversation_id, reply)
        .await?
        .into_message();
    publish::in_conversation(
        &state.hub,
        workspace_id,
        conversation_id,
        ServerEvent::Message {
            message: message.clone(),
        },
        Except::Nobody,
    );
    Ok(Some(message))
}

//! Bots in the store: registering one (its signing secret and bot-scoped API key, each
//! handed out once), changing and deleting it, whose an API key is, and which bot takes a new
//! conversation.

use super::Candidate;
use crate::db::{self, Db};
use crate::store::StoreResult;
use crate::workspaces;
use talk_protocol::{
    Bot, BotCreated, BotInput, BotTakes, WebhookDelivery, MAX_BOTS, MAX_DELIVERY_LOG,
};

/// A bot as stored. The signing secret is kept as is: signing needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotRecord {
    pub id: String,
    pub workspace_id: String,
    pub input: BotInput,
    pub signing_secret: String,
    pub api_key_id: String,
    /// The first characters of its key's secret part (from `api_keys`).
    pub api_key_prefix: String,
    pub created_at: i64,
}

impl BotRecord {
    /// What admins see: never the secret or the key.
    pub fn public(&self) -> Bot {
        Bot {
            id: self.id.clone(),
            input: self.input.clone(),
            api_key_prefix: self.api_key_prefix.clone(),
            created_at: self.created_at,
        }
    }
}

/// Who an active API key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHolder {
    pub workspace_id: String,
    /// Set for a bot's key: the bot's id.
    pub bot_id: Option<String>,
}

const SIGNING_SECRET_PREFIX: &str = "whsec_";

/// Registers a bot (its input already validated) with a new signing secret and a new
/// bot-scoped API key, which the answer carries and nothing shows again. `None` when the
/// workspace has [`MAX_BOTS`] bots already.
pub async fn create(
    db: &Db,
    workspace_id: &str,
    input: BotInput,
) -> StoreResult<Option<BotCreated>> {
    let (key, api_key) = workspaces::new_api_key();
    let record = BotRecord {
        id: db::new_id(),
        workspace_id: workspace_id.to_string(),
        input,
        signing_secret: format!("{SIGNING_SECRET_PREFIX}{}", db::random_hex(32)),
        api_key_id: key.id.clone(),
        api_key_prefix: key.prefix.clone().unwrap_or_default(),
        created_at: key.created_at,
    };
    if !db.insert_bot(&record, &key, MAX_BOTS as i64).await? {
        return Ok(None);
    }
    Ok(Some(BotCreated {
        bot: record.public(),
        signing_secret: record.signing_secret,
        api_key,
    }))
}

/// A workspace's bots, oldest first.
pub async fn list(db: &Db, workspace_id: &str) -> StoreResult<Vec<BotRecord>> {
    db.list_bots(workspace_id).await
}

pub async fn find(db: &Db, workspace_id: &str, bot_id: &str) -> StoreResult<Option<BotRecord>> {
    db.bot_by_id(workspace_id, bot_id).await
}

/// Replaces what an admin may change; the bot as it is now, or `None` if there is no such
/// bot.
pub async fn update(
    db: &Db,
    workspace_id: &str,
    bot_id: &str,
    input: &BotInput,
) -> StoreResult<Option<BotRecord>> {
    if !db
        .update_bot(workspace_id, bot_id, input, db::now_ms())
        .await?
    {
        return Ok(None);
    }
    find(db, workspace_id, bot_id).await
}

/// Deletes the bot: its key is revoked, its conversations go to the agents and its
/// deliveries (pending ones too) are dropped, all together. False if there is no such bot.
pub async fn delete(db: &Db, workspace_id: &str, bot_id: &str) -> StoreResult<bool> {
    db.delete_bot(workspace_id, bot_id, db::now_ms()).await
}

/// The bot holding a conversation of the workspace, if one does: `(id, name)`.
pub async fn holder(
    db: &Db,
    workspace_id: &str,
    conversation_id: &str,
) -> StoreResult<Option<(String, String)>> {
    db.conversation_bot(workspace_id, conversation_id).await
}

/// The bot lets go of the conversation: no event of it is queued for the bot any more.
/// Whether it held it.
pub async fn release(
    db: &Db,
    workspace_id: &str,
    conversation_id: &str,
    bot_id: &str,
) -> StoreResult<bool> {
    db.release_conversation(workspace_id, conversation_id, bot_id, db::now_ms())
        .await
}

/// A bot's newest deliveries (at most [`MAX_DELIVERY_LOG`]), newest first; `None` if the
/// workspace has no such bot.
pub async fn deliveries(
    db: &Db,
    workspace_id: &str,
    bot_id: &str,
) -> StoreResult<Option<Vec<WebhookDelivery>>> {
    if find(db, workspace_id, bot_id).await?.is_none() {
        return Ok(None);
    }
    let limit = MAX_DELIVERY_LOG as i64;
    Ok(Some(db.list_deliveries(workspace_id, bot_id, limit).await?))
}

/// The bot that takes a conversation the workspace's visitor starts now ([`super::taker`]);
/// agents' presence is looked up only when an outside-office-hours bot could take it.
pub async fn taker_for_new_conversation(
    db: &Db,
    workspace_id: &str,
) -> StoreResult<Option<String>> {
    let bots = db.list_bots(workspace_id).await?;
    let candidates: Vec<Candidate<'_>> = bots
        .iter()
        .map(|bot| Candidate {
            id: &bot.id,
            takes: bot.input.takes,
            enabled: bot.input.enabled,
        })
        .collect();
    let any_enabled = |takes: BotTakes| {
        candidates
            .iter()
            .any(|bot| bot.enabled && bot.takes == takes)
    };
    // Presence decides only when no bot takes every new conversation and one takes them
    // outside office hours; otherwise "nobody online" changes nothing.
    let presence_decides =
        !any_enabled(BotTakes::AllNew) && any_enabled(BotTakes::OutsideOfficeHours);
    let agents_online = presence_decides && db.any_agent_online(workspace_id).await?;
    Ok(super::taker(&candidates, agents_online).map(str::to_string))
}

/// What both stores select for a [`BotRecord`]: `bots b` joined with its key, `api_keys k`.
pub(crate) const BOT_COLUMNS: &str = "b.id, b.workspace_id, b.name, b.photo_url, b.webhook_url, \
     b.takes, b.enabled, b.signing_secret, b.api_key_id, k.prefix, b.created_at";

/// A row of [`BOT_COLUMNS`].
pub(crate) type BotRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    bool,
    String,
    String,
    Option<String>,
    i64,
);

pub(crate) fn bot_from_row(row: BotRow) -> BotRecord {
    let (
        id,
        workspace_id,
        name,
        photo_url,
        webhook_url,
        takes,
        enabled,
        signing_secret,
        api_key_id,
        api_key_prefix,
        created_at,
    ) = row;
    BotRecord {
        id,
        workspace_id,
        input: BotInput {
            name,
            photo_url,
            webhook_url,
            takes: if takes == "all_new" {
                BotTakes::AllNew
            } else {
                BotTakes::OutsideOfficeHours
            },
            enabled,
        },
        signing_secret,
        api_key_id,
        api_key_prefix: api_key_prefix.unwrap_or_default(),
        created_at,
    }
}

pub(crate) fn takes_text(takes: BotTakes) -> &'static str {
    match takes {
        BotTakes::AllNew => "all_new",
        BotTakes::OutsideOfficeHours => "outside_office_hours",
    }
}

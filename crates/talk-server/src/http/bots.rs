//! Agent bots over HTTP: the admin API (`/v1/admin/bots…`, admin cookie), the bot's own
//! key on the conversation routes it may use ([`ApiCaller`]), and the handoff.

use super::agent_session::AdminSession;
use super::extract::{api_key_holder, Actor};
use super::ApiJson;
use crate::actions::{self, own_conversation};
use crate::bots::{client, registry};
use crate::error::{ApiError, ApiResult};
use crate::realtime::hub::Except;
use crate::realtime::publish;
use crate::validate::{checked_optional_url, checked_text};
use crate::AppState;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use talk_protocol::{
    error_code, Author, AuthorKind, Bot, BotCreated, BotInput, BotList, DeliveryList,
    HandoffRequest, ServerEvent, MAX_BOTS, MAX_BOT_NAME_CHARS, MAX_HANDOFF_NOTE_CHARS,
};

/// Who acts with an API key on the routes a bot may use (a conversation's messages, typing
/// and handoff): the workspace (its key), or a bot (its key) in a conversation it holds.
/// A bot's key on a conversation it doesn't hold (never did, or handed over) is refused with
/// 403 `conversation_not_held`, whether the conversation exists or not.
pub struct ApiCaller {
    workspace_id: String,
    bot: Option<HoldingBot>,
}

struct HoldingBot {
    id: String,
    name: String,
}

fn not_held() -> ApiError {
    ApiError::forbidden(
        error_code::CONVERSATION_NOT_HELD,
        "this bot does not hold the conversation (it never did, or handed it over)",
    )
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let holder = api_key_holder(parts, state).await?;
        let Some(bot_id) = holder.bot_id else {
            return Ok(ApiCaller {
                workspace_id: holder.workspace_id,
                bot: None,
            });
        };
        // Every route this extractor serves names one conversation.
        let Path(conversation_id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| not_held())?;
        let holding = registry::holder(&state.db, &holder.workspace_id, &conversation_id)
            .await?
            .filter(|(holding_id, _)| *holding_id == bot_id)
            .ok_or_else(not_held)?;
        Ok(ApiCaller {
            workspace_id: holder.workspace_id,
            bot: Some(HoldingBot {
                id: holding.0,
                name: holding.1,
            }),
        })
    }
}

impl Actor for ApiCaller {
    fn workspace_id(&self) -> &str {
        &self.workspace_id
    }

    fn agent_name(&self, given: Option<&str>) -> String {
        match &self.bot {
            Some(bot) => bot.name.clone(),
            None => actions::agent_name(given),
        }
    }

    /// A bot writes and types as itself, whatever name the request gives.
    fn author(&self, given: Option<&str>) -> Author {
        Author {
            kind: match self.bot {
                Some(_) => AuthorKind::Bot,
                None => AuthorKind::Agent,
            },
            name: Some(self.agent_name(given)),
        }
    }
}

/// `POST /v1/conversations/{id}/handoff`: the bot lets go (with its key; or the workspace's
/// key makes whichever bot holds it let go). The bot gets no event of the conversation from
/// now on (those already queued still go), the agents are told (`handoff`, which the inbox
/// rings for) and the conversation is published as updated. 204 also when no bot held it
/// (workspace key): there was nothing to do.
pub async fn handoff(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(conversation_id): Path<String>,
    ApiJson(request): ApiJson<HandoffRequest>,
) -> ApiResult<StatusCode> {
    let note = checked_note(request.note.as_deref())?;
    let ApiCaller { workspace_id, bot } = caller;
    let workspace_id = workspace_id.as_str();
    let conversation = own_conversation(&state, workspace_id, &conversation_id).await?;
    let holder = match bot {
        Some(bot) => Some((bot.id, bot.name)),
        None => registry::holder(&state.db, workspace_id, &conversation.id).await?,
    };
    let Some((bot_id, bot_name)) = holder else {
        return Ok(StatusCode::NO_CONTENT);
    };
    if registry::release(&state.db, workspace_id, &conversation.id, &bot_id).await? {
        state.webhooks.let_go(&state, &conversation.id);
        let event = ServerEvent::Handoff {
            conversation_id: conversation.id.clone(),
            bot_name,
            note,
        };
        // A preview's handoff reaches the agents no more than the rest of it does.
        if publish::agents_hear(&conversation.id, &event) {
            publish::to_agents(&state.hub, workspace_id, event);
        }
        publish::conversation_updated(&state.hub, workspace_id, &conversation, Except::Nobody);
    }
    Ok(StatusCode::NO_CONTENT)
}

fn checked_note(note: Option<&str>) -> ApiResult<Option<String>> {
    let Some(note) = note.map(str::trim).filter(|note| !note.is_empty()) else {
        return Ok(None);
    };
    if note.chars().count() > MAX_HANDOFF_NOTE_CHARS {
        return Err(ApiError::bad_request(
            "invalid_note",
            format!("note must be at most {MAX_HANDOFF_NOTE_CHARS} characters"),
        ));
    }
    Ok(Some(note.to_string()))
}

fn bot_not_found() -> ApiError {
    ApiError::not_found("bot_not_found", "this workspace has no such bot")
}

/// The input as stored: name and photo checked like an agent's, the webhook URL like
/// nothing else ([`client::checked_target`]: https, and a public address unless the server
/// allows private targets).
async fn checked_input(state: &AppState, input: BotInput) -> ApiResult<BotInput> {
    let name = checked_text("invalid_name", "name", &input.name, MAX_BOT_NAME_CHARS)?;
    let photo_url = checked_optional_url("photo_url", input.photo_url.as_deref())?;
    let webhook_url =
        client::checked_target(&input.webhook_url, state.settings.bot_allow_private_targets)
            .await
            .map_err(|problem| ApiError::bad_request(problem.code(), problem.message()))?;
    Ok(BotInput {
        name,
        photo_url,
        webhook_url: webhook_url.into(),
        takes: input.takes,
        enabled: input.enabled,
    })
}

pub async fn list_bots(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
) -> ApiResult<Json<BotList>> {
    let bots = registry::list(&state.db, &admin.workspace_id).await?;
    Ok(Json(BotList {
        bots: bots.iter().map(registry::BotRecord::public).collect(),
    }))
}

/// Answers the signing secret and the bot's API key once; neither is shown again.
pub async fn create_bot(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    ApiJson(input): ApiJson<BotInput>,
) -> ApiResult<(StatusCode, Json<BotCreated>)> {
    let input = checked_input(&state, input).await?;
    let created = registry::create(&state.db, &admin.workspace_id, input)
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                "too_many_bots",
                format!("a workspace has at most {MAX_BOTS} bots: delete one first"),
            )
        })?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn get_bot(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    Path(bot_id): Path<String>,
) -> ApiResult<Json<Bot>> {
    registry::find(&state.db, &admin.workspace_id, &bot_id)
        .await?
        .map(|bot| Json(bot.public()))
        .ok_or_else(bot_not_found)
}

/// Replaces the bot's settings whole (its secret and key stay).
pub async fn put_bot(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    Path(bot_id): Path<String>,
    ApiJson(input): ApiJson<BotInput>,
) -> ApiResult<Json<Bot>> {
    let input = checked_input(&state, input).await?;
    registry::update(&state.db, &admin.workspace_id, &bot_id, &input)
        .await?
        .map(|bot| Json(bot.public()))
        .ok_or_else(bot_not_found)
}

/// Revokes its key, gives its conversations to the agents, and drops its deliveries.
pub async fn delete_bot(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    Path(bot_id): Path<String>,
) -> ApiResult<StatusCode> {
    if !registry::delete(&state.db, &admin.workspace_id, &bot_id).await? {
        return Err(bot_not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The bot's newest deliveries (at most `MAX_DELIVERY_LOG`), newest first.
pub async fn list_deliveries(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    Path(bot_id): Path<String>,
) -> ApiResult<Json<DeliveryList>> {
    registry::deliveries(&state.db, &admin.workspace_id, &bot_id)
        .await?
        .map(|deliveries| Json(DeliveryList { deliveries }))
        .ok_or_else(bot_not_found)
}

//! Capture widgets' glue: the store read and written around the rules of
//! [`crate::captures`]. The admin API (validated input, counts, order), the browser's
//! `shown` / `dismissed`, the offer in a widget session's answer, and the visitor's reply,
//! which starts a conversation (the realtime session publishes it).

use super::stored::{
    CandidateRow, CaptureEvent, CaptureStart, CaptureStarted, CaptureWidgetRecord,
    CaptureWidgetRow, HistoryRow, Opened, HISTORY_VIEWS,
};
use super::{Candidate, History, Identity, Page, Seen, Viewing};
use crate::conversations::{self, NewConversation, NewMessage};
use crate::db::{self, Db};
use crate::error::{ApiError, ApiResult};
use crate::people;
use crate::store::StoreResult;
use crate::tokens::SocketClaims;
use crate::widget_settings;
use crate::AppState;
use talk_protocol::{
    error_code, Author, AuthorKind, CaptureOffer, CaptureSender, CaptureWidget, CaptureWidgetInput,
    CaptureWidgetList, Conversation, ConversationList, ConversationStatus, Homepage, Message,
    OfferSender, PersonSummary, WidgetSettings, MAX_CAPTURE_WIDGETS,
    MAX_OPEN_CONVERSATIONS_PER_VISITOR,
};

/// An admin's input refused; the message names the field.
pub const INVALID_CAPTURE_WIDGET: &str = "invalid_capture_widget";
/// The workspace has [`MAX_CAPTURE_WIDGETS`] already.
pub const TOO_MANY_CAPTURE_WIDGETS: &str = "too_many_capture_widgets";
pub const CAPTURE_WIDGET_NOT_FOUND: &str = "capture_widget_not_found";
/// An order that is not exactly the workspace's capture widgets.
pub const INVALID_CAPTURE_ORDER: &str = "invalid_capture_order";
/// Most conversations `GET /v1/admin/capture-widgets/{id}/conversations` lists.
pub const MAX_LISTED_CONVERSATIONS: i64 = 100;

fn not_found() -> ApiError {
    ApiError::not_found(
        CAPTURE_WIDGET_NOT_FOUND,
        "this workspace has no such capture widget",
    )
}

pub fn not_available() -> ApiError {
    ApiError::not_found(
        error_code::CAPTURE_NOT_AVAILABLE,
        "this capture widget is unknown, switched off, or not offered to this visitor any more",
    )
}

fn invalid(reason: String) -> ApiError {
    ApiError::bad_request(INVALID_CAPTURE_WIDGET, reason)
}

fn widget(row: CaptureWidgetRow) -> ApiResult<CaptureWidget> {
    let input: CaptureWidgetInput = serde_json::from_str(&row.input).map_err(|error| {
        ApiError::Internal(format!("capture widget {} is unreadable: {error}", row.id))
    })?;
    Ok(CaptureWidget {
        stats: row.stats(),
        id: row.id,
        input,
        position: row.position,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The workspace's capture widgets in order, with their counts.
pub async fn list(db: &Db, workspace_id: &str) -> ApiResult<CaptureWidgetList> {
    let capture_widgets = db
        .capture_widgets(workspace_id, None)
        .await?
        .into_iter()
        .map(widget)
        .collect::<ApiResult<_>>()?;
    Ok(CaptureWidgetList { capture_widgets })
}

pub async fn get(db: &Db, workspace_id: &str, id: &str) -> ApiResult<CaptureWidget> {
    let row = db
        .capture_widgets(workspace_id, Some(id))
        .await?
        .into_iter()
        .next()
        .ok_or_else(not_found)?;
    widget(row)
}

/// The input as stored: [`super::validated`], and its sender agent an agent of the
/// workspace.
async fn checked(
    db: &Db,
    workspace_id: &str,
    input: CaptureWidgetInput,
) -> ApiResult<CaptureWidgetInput> {
    let input = super::validated(input).map_err(invalid)?;
    if let CaptureSender::Agent { agent_id } = &input.sender {
        if db.agent_by_id(workspace_id, agent_id).await?.is_none() {
            return Err(invalid(
                "sender.agent_id names no agent of this workspace".to_string(),
            ));
        }
    }
    Ok(input)
}

fn record<'a>(
    id: &'a str,
    workspace_id: &'a str,
    input: &'a CaptureWidgetInput,
    input_json: &'a str,
) -> CaptureWidgetRecord<'a> {
    CaptureWidgetRecord {
        id,
        workspace_id,
        input_json,
        enabled: input.enabled,
        sender_agent_id: match &input.sender {
            CaptureSender::Agent { agent_id } => Some(agent_id),
            CaptureSender::Bot => None,
        },
        now: db::now_ms(),
    }
}

fn to_json(input: &CaptureWidgetInput) -> ApiResult<String> {
    serde_json::to_string(input)
        .map_err(|error| ApiError::Internal(format!("encoding a capture widget: {error}")))
}

/// Adds a capture widget at the end of the order.
pub async fn create(
    db: &Db,
    workspace_id: &str,
    input: CaptureWidgetInput,
) -> ApiResult<CaptureWidget> {
    let input = checked(db, workspace_id, input).await?;
    let id = db::new_id();
    let json = to_json(&input)?;
    let max = i64::try_from(MAX_CAPTURE_WIDGETS).unwrap_or(i64::MAX);
    if !db
        .insert_capture_widget(&record(&id, workspace_id, &input, &json), max)
        .await?
    {
        return Err(ApiError::conflict(
            TOO_MANY_CAPTURE_WIDGETS,
            format!(
                "a workspace has at most {MAX_CAPTURE_WIDGETS} capture widgets: delete one first"
            ),
        ));
    }
    get(db, workspace_id, &id).await
}

/// Replaces a capture widget's input whole; its place in the order stays.
pub async fn replace(
    db: &Db,
    workspace_id: &str,
    id: &str,
    input: CaptureWidgetInput,
) -> ApiResult<CaptureWidget> {
    let input = checked(db, workspace_id, input).await?;
    let json = to_json(&input)?;
    if !db
        .update_capture_widget(&record(id, workspace_id, &input, &json))
        .await?
    {
        return Err(not_found());
    }
    get(db, workspace_id, id).await
}

pub async fn delete(db: &Db, workspace_id: &str, id: &str) -> ApiResult<()> {
    if !db.delete_capture_widget(workspace_id, id).await? {
        return Err(not_found());
    }
    Ok(())
}

/// Puts the workspace's capture widgets in the order of `ids`, which must name each of them
/// once; answers the list in its new order.
pub async fn order(db: &Db, workspace_id: &str, ids: &[String]) -> ApiResult<CaptureWidgetList> {
    if !db.order_capture_widgets(workspace_id, ids).await? {
        return Err(ApiError::bad_request(
            INVALID_CAPTURE_ORDER,
            "ids must name each of the workspace's capture widgets exactly once",
        ));
    }
    list(db, workspace_id).await
}

/// The conversations the capture widget started, newest first.
pub async fn conversations(db: &Db, workspace_id: &str, id: &str) -> ApiResult<ConversationList> {
    get(db, workspace_id, id).await?;
    let conversations = db
        .capture_conversations(workspace_id, id, MAX_LISTED_CONVERSATIONS)
        .await?;
    Ok(ConversationList { conversations })
}

/// `shown` or `dismissed`, reported by the browser; a repeat changes nothing.
pub async fn record_event(
    db: &Db,
    claims: &SocketClaims,
    capture_id: &str,
    event: CaptureEvent,
) -> ApiResult<()> {
    let recorded = db
        .record_capture_event(
            &claims.ws,
            capture_id,
            event,
            &claims.vid,
            &claims.sid,
            db::now_ms(),
        )
        .await?;
    if !recorded {
        return Err(not_available());
    }
    Ok(())
}

/// A widget session's page view.
#[derive(Debug, Clone)]
pub struct Visit<'a> {
    pub workspace_id: &'a str,
    pub visitor_id: &'a str,
    /// As the request gave it; not a page (no capture) unless it is an http(s) URL.
    pub page_url: Option<&'a str>,
    pub identity: Identity,
    /// Whom the merge tags name: as the session answer shows the visitor.
    pub person: Option<&'a PersonSummary>,
}

fn settings_from(stored: Option<&str>, workspace_id: &str) -> WidgetSettings {
    stored
        .and_then(|json| match serde_json::from_str(json) {
            Ok(settings) => Some(settings),
            Err(error) => {
                tracing::error!(%error, workspace_id, "stored widget settings unreadable; using defaults");
                None
            }
        })
        .unwrap_or_default()
}

fn candidate(row: CandidateRow, homepage: &Homepage) -> Option<Candidate> {
    let input: CaptureWidgetInput = match serde_json::from_str(&row.input) {
        Ok(input) => input,
        Err(error) => {
            tracing::error!(%error, capture_id = row.id, "capture widget unreadable: not offered");
            return None;
        }
    };
    let sender = match &input.sender {
        CaptureSender::Agent { .. } => row.agent_name.map(|name| OfferSender {
            kind: AuthorKind::Agent,
            name,
            photo_url: row.agent_photo_url,
        }),
        CaptureSender::Bot => Some(OfferSender {
            kind: AuthorKind::Bot,
            name: homepage.bot_name.clone(),
            photo_url: homepage.bot_photo_url.clone(),
        }),
    };
    Some(Candidate {
        id: row.id,
        input,
        sender,
    })
}

fn history(rows: Vec<HistoryRow>) -> History {
    let mut history = History::default();
    for row in rows {
        match (row.capture_id, row.kind.as_deref()) {
            (None, _) => history.views_newest_first.push(row.at),
            (Some(capture_id), Some(kind)) => {
                let seen: &mut Seen = history.seen.entry(capture_id).or_default();
                match kind {
                    "shown" => seen.last_shown = seen.last_shown.max(Some(row.at)),
                    "dismissed" => seen.dismissed = true,
                    "replied" => seen.replied = true,
                    _ => {}
                }
            }
            (Some(_), None) => {}
        }
    }
    history.views_newest_first.sort_unstable_by(|a, b| b.cmp(a));
    history.views_complete = (history.views_newest_first.len() as i64) < HISTORY_VIEWS;
    history
}

/// The capture this page view is offered, if any. Asks the store nothing unless the caller
/// saw the workspace's `captures_enabled`; then one query for the widget settings and the
/// candidates, and one for the visitor's history only when a candidate suits this page,
/// visitor and date.
pub async fn offer(db: &Db, visit: &Visit<'_>) -> StoreResult<Option<CaptureOffer>> {
    let Some(page) = visit.page_url.and_then(Page::parse) else {
        return Ok(None);
    };
    let source = db.capture_offer_source(visit.workspace_id).await?;
    let settings = settings_from(source.widget_settings.as_deref(), visit.workspace_id);
    if !settings.enabled {
        return Ok(None);
    }
    let viewing = Viewing {
        page: &page,
        identity: visit.identity,
        now: db::now_ms(),
    };
    let candidates: Vec<Candidate> = source
        .candidates
        .into_iter()
        .filter_map(|row| candidate(row, &settings.homepage))
        .filter(|candidate| super::admitted(candidate, &viewing))
        .collect();
    if candidates.is_empty() {
        return Ok(None);
    }
    let rows = db
        .capture_history(visit.workspace_id, visit.visitor_id, HISTORY_VIEWS)
        .await?;
    let history = history(rows);
    Ok(super::pick(&candidates, &history, &viewing)
        .and_then(|picked| super::offer(picked, visit.person)))
}

/// The visitor replying, as its realtime session knows it.
#[derive(Debug, Clone)]
pub struct Replier<'a> {
    pub claims: &'a SocketClaims,
    /// The person it writes as, if any (an unidentified visitor may reply).
    pub person_id: Option<String>,
    pub author: Author,
}

/// What a reply did.
#[derive(Debug, Clone)]
pub enum Replied {
    /// This `client_msg_id` was stored before: acknowledge it again, publish nothing.
    Earlier(Message),
    Started(Box<Started>),
}

/// A new conversation: the capture's message, then the reply.
#[derive(Debug, Clone)]
pub struct Started {
    pub conversation: Conversation,
    pub opening: Message,
    pub reply: Message,
}

/// Whom the capture's merge tags name now: the verified person, else what the visitor typed.
async fn person_summary(db: &Db, claims: &SocketClaims) -> StoreResult<Option<PersonSummary>> {
    if let (true, Some(person_id)) = (claims.ver, &claims.pid) {
        let person = people::by_id(db, &claims.ws, person_id).await?;
        return Ok(person.map(|person| person.summary()));
    }
    let identity = people::visitor_identity(db, &claims.ws, &claims.vid).await?;
    Ok(identity.claim.map(|claim| claim.summary()))
}

/// The capture's sender as a message author, as it is now; `None` when its agent is gone.
async fn opening_author(
    db: &Db,
    workspace_id: &str,
    sender: &CaptureSender,
) -> ApiResult<Option<Author>> {
    Ok(match sender {
        CaptureSender::Agent { agent_id } => {
            db.agent_by_id(workspace_id, agent_id)
                .await?
                .map(|agent| Author {
                    kind: AuthorKind::Agent,
                    name: Some(agent.name),
                })
        }
        CaptureSender::Bot => {
            let settings = widget_settings::load(db, workspace_id)
                .await?
                .unwrap_or_default();
            Some(Author {
                kind: AuthorKind::Bot,
                name: Some(settings.homepage.bot_name),
            })
        }
    })
}

/// A visitor's reply to a capture: starts a conversation whose first message is the
/// capture's (rendered for this visitor, from its sender) and second the reply. Idempotent
/// on `client_msg_id`. The message is checked as a `send`'s; an unidentified visitor may
/// reply (it identifies before its next message).
pub async fn reply(
    state: &AppState,
    replier: Replier<'_>,
    capture_id: &str,
    client_msg_id: &str,
    body: &str,
) -> ApiResult<Replied> {
    let body = conversations::checked_body(body)
        .map_err(|problem| ApiError::bad_request(problem.code(), problem.message()))?;
    let claims = replier.claims;
    let db = &state.db;
    let earlier =
        || conversations::visitor_message_by_client_id(db, &claims.ws, &claims.vid, client_msg_id);
    if let Some(message) = earlier().await? {
        return Ok(Replied::Earlier(message));
    }
    // After the resend check: a reply committed before the quota ran out still answers.
    crate::usage::admit_new_conversation(state, &claims.ws, claims.pre).await?;
    let capture = db
        .capture_widgets(&claims.ws, Some(capture_id))
        .await?
        .into_iter()
        .next()
        .ok_or_else(not_available)
        .and_then(widget)?;
    if !capture.input.enabled {
        return Err(not_available());
    }
    let opening_author = opening_author(db, &claims.ws, &capture.input.sender)
        .await?
        .ok_or_else(not_available)?;
    let person = person_summary(db, claims).await?;
    let opening =
        super::message_for(&capture.input.message, person.as_ref()).ok_or_else(not_available)?;
    let now = db::now_ms();
    let start = CaptureStart {
        conversation_id: db::new_id(),
        conversation: NewConversation {
            workspace_id: claims.ws.clone(),
            visitor_id: claims.vid.clone(),
            person_id: replier.person_id,
            session_id: claims.sid.clone(),
            verified: claims.ver,
            // The workspace wrote first: the reply is for the agents, whom the capture's
            // sender speaks for, not for a webhook bot.
            bot_id: None,
            // Previews are offered no capture widget and may not reply to one.
            preview: false,
        },
        capture_id: capture.id,
        opening: NewMessage {
            author: opening_author,
            body: opening,
            client_msg_id: None,
            reopens: false,
            auto_reply: false,
        },
        reply: NewMessage {
            author: replier.author,
            body,
            client_msg_id: Some(client_msg_id.to_string()),
            reopens: true,
            auto_reply: false,
        },
        max_open: MAX_OPEN_CONVERSATIONS_PER_VISITOR,
        now,
    };
    match db.start_capture_conversation(&start).await? {
        CaptureStarted::Started(opened) => {
            let Opened { opening, reply } = *opened;
            let conversation = Conversation {
                id: start.conversation_id,
                verified: start.conversation.verified,
                status: ConversationStatus::Open,
                visitor_id: start.conversation.visitor_id,
                person_id: start.conversation.person_id,
                last_seq: reply.seq,
                created_at: now,
                assignee_id: None,
                visitor_read_seq: opening.seq,
                agent_read_seq: 0,
            };
            Ok(Replied::Started(Box::new(Started {
                conversation,
                opening,
                reply,
            })))
        }
        CaptureStarted::TooManyOpen => Err(ApiError::conflict(
            error_code::TOO_MANY_CONVERSATIONS,
            format!(
                "this visitor has {MAX_OPEN_CONVERSATIONS_PER_VISITOR} open conversations \
                 already: continue one of them"
            ),
        )),
        // Replied before: the same reply sent twice at once is the earlier one.
        CaptureStarted::NotAvailable => earlier()
            .await?
            .map(Replied::Earlier)
            .ok_or_else(not_available),
    }
}

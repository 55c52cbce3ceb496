//! Capture widgets: messages the workspace sends first (seed 000's conversation capture
//! widget), e.g. to announce a product or offer help on a pricing page. Admins manage them at
//! `/v1/admin/capture-widgets`; the server picks at most one per page view and offers it in
//! the widget's session answer ([`WidgetSessionAnswer`]); the loader's capture module shows
//! it, reports it shown or dismissed, and sends the visitor's reply as
//! `ClientEvent::CaptureReply`, which starts a conversation whose first message is the
//! capture's.

use crate::{AuthorKind, WidgetSessionResponse};
use serde::{Deserialize, Serialize};

/// Longest capture message, in bytes (it becomes a conversation's first message).
pub const MAX_CAPTURE_MESSAGE_BYTES: usize = 2048;
/// Longest capture name (for admins), in characters.
pub const MAX_CAPTURE_NAME_CHARS: usize = 120;
/// URL rules per capture widget.
pub const MAX_CAPTURE_RULES: usize = 20;
/// Longest URL rule value, in bytes.
pub const MAX_CAPTURE_RULE_BYTES: usize = 512;
/// Capture widgets per workspace.
pub const MAX_CAPTURE_WIDGETS: usize = 50;
/// Longest wait on the page before a capture shows, in seconds.
pub const MAX_CAPTURE_DELAY_SECS: u32 = 3600;
/// A visit ("session" in a capture's frequency) ends after this long without a page view.
pub const VISIT_GAP_SECS: i64 = 30 * 60;

/// A capture widget as admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureWidget {
    pub id: String,
    #[serde(flatten)]
    pub input: CaptureWidgetInput,
    /// Its place in the workspace's order: the first match in this order is offered.
    pub position: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub stats: CaptureStats,
}

/// What an admin writes: `POST /v1/admin/capture-widgets`, `PUT …/{id}` (the whole thing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureWidgetInput {
    /// For admins only.
    pub name: String,
    #[serde(default = "crate::captures::yes")]
    pub enabled: bool,
    /// Plain text with merge tags like the greeting's (`{{first_name|there}}`).
    pub message: String,
    pub sender: CaptureSender,
    /// Which pages: every include rule's page (all pages when there is none) minus every
    /// exclude rule's.
    #[serde(default)]
    pub rules: Vec<UrlRule>,
    /// Seconds on the page before it shows.
    #[serde(default)]
    pub delay_secs: u32,
    #[serde(default)]
    pub audience: Audience,
    #[serde(default)]
    pub frequency: Frequency,
    /// At least this long between two showings to one visitor.
    #[serde(default)]
    pub min_gap_secs: u32,
    /// Unix ms; shown from then on (none: at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<i64>,
    /// Unix ms; not shown from then on (none: never ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<i64>,
    #[serde(default)]
    pub display: CaptureDisplay,
}

pub(crate) fn yes() -> bool {
    true
}

/// Who the capture message comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaptureSender {
    /// One of the workspace's agents (its name and photo).
    Agent { agent_id: String },
    /// The homepage's bot (`homepage.bot_name`, `homepage.bot_photo_url`).
    Bot,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlRule {
    #[serde(rename = "match")]
    pub kind: UrlMatch,
    /// Compared with the page's URL without its fragment; a value starting with `/` is
    /// compared with the path (and query) only.
    pub value: String,
    /// An exclude rule: pages it matches never show the capture.
    #[serde(default)]
    pub exclude: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UrlMatch {
    Equals,
    Contains,
    StartsWith,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    #[default]
    Everyone,
    /// Visitors who have given no email and have no verified session.
    Unidentified,
    /// Visitors linked to a person: by the email form or a verified session.
    Known,
    /// Only verified sessions.
    Verified,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// Never again to a visitor it was shown to.
    #[default]
    OncePerVisitor,
    /// Once per visit: page views with less than [`VISIT_GAP_SECS`] between them.
    OncePerSession,
    EveryPageView,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureDisplay {
    /// A bubble by the launcher.
    #[default]
    Bubble,
    /// Opened: a card with the reply field ready.
    Opened,
}

/// Per capture widget: what it did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureStats {
    pub shown: i64,
    pub dismissed: i64,
    pub replied: i64,
    /// Conversations it started (a reply starts one).
    pub conversations: i64,
}

/// `GET /v1/admin/capture-widgets`: in the workspace's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureWidgetList {
    pub capture_widgets: Vec<CaptureWidget>,
}

/// `PUT /v1/admin/capture-widgets/order`: every capture widget's id, in the new order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureOrder {
    pub ids: Vec<String>,
}

/// The capture a page view is offered, in the widget's session answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureOffer {
    pub id: String,
    /// The message with its merge tags filled in for this visitor.
    pub message: String,
    pub sender: OfferSender,
    /// Seconds after the page started loading that it shows.
    pub delay_secs: u32,
    pub display: CaptureDisplay,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferSender {
    /// `agent` or `bot`.
    pub kind: AuthorKind,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
}

/// `POST /v1/talk/widget/session`'s answer: the session, and the capture this page view is
/// offered, if any. A separate type so the widget's own decoder (which never reads the
/// capture: the loader's module does) stays as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WidgetSessionAnswer {
    #[serde(flatten)]
    pub session: WidgetSessionResponse,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureOffer>,
}

/// `POST /v1/talk/captures/{id}/shown` and `…/dismissed` (Bearer session token): answers 204.
/// A dismissed capture never shows to that visitor again.
pub mod capture_event {
    pub const SHOWN: &str = "shown";
    pub const DISMISSED: &str = "dismissed";
}

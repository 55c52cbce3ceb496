//! `POST /v1/talk/session`: the site's backend mints a verified-session token (X-Api-Key),
//! finding or creating the person with Ortto's merge semantics.

use super::{ApiJson, ApiKeyWorkspace};
use crate::db::{self, Db};
use crate::error::{ApiError, ApiResult};
use crate::ice;
use crate::people::{self, FieldKind, Fields, MergeStrategy, Person};
use crate::store::{SessionRecord, StoreError};
use crate::tokens::{self, SocketClaims, TalkClaims};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;
use talk_protocol::{
    field, BrowserSession, FieldValue, PersonStatus, TalkSessionRequest, TalkSessionResponse,
};

const TOKEN_LIFETIME_SECS: i64 = 365 * 24 * 60 * 60;
const PERSON_ID: &str = "person_id";
/// Longest text field value, in characters.
const MAX_FIELD_CHARS: usize = 1000;

/// How merge fields are tried when looking a person up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FindStrategy {
    /// Main field, then the fallback.
    Any,
    /// The fallback only when the main value is empty.
    FallbackIfMainEmpty,
    /// Every merge field must match the same person.
    All,
}

fn merge_strategy(value: Option<u8>) -> ApiResult<MergeStrategy> {
    match value.unwrap_or(2) {
        1 => Ok(MergeStrategy::AppendOnly),
        2 => Ok(MergeStrategy::Overwrite),
        3 => Ok(MergeStrategy::Ignore),
        _ => Err(ApiError::bad_request(
            "invalid_merge_strategy",
            "merge_strategy must be 1 (append only), 2 (overwrite) or 3 (ignore)",
        )),
    }
}

fn find_strategy(value: Option<u8>) -> ApiResult<FindStrategy> {
    match value.unwrap_or(0) {
        0 => Ok(FindStrategy::Any),
        1 => Ok(FindStrategy::FallbackIfMainEmpty),
        2 => Ok(FindStrategy::All),
        _ => Err(ApiError::bad_request(
            "invalid_find_strategy",
            "find_strategy must be 0 (any), 1 (fallback if main empty) or 2 (all)",
        )),
    }
}

/// The fields people are looked up by: main and optional fallback. Empty for
/// `["person_id"]`, where the request's `person_id` is the only key.
fn merge_by(value: Option<&[String]>) -> ApiResult<Vec<String>> {
    let default = [field::EMAIL.to_string()];
    let merge_by = value.unwrap_or(&default);
    if merge_by == [PERSON_ID] {
        return Ok(Vec::new());
    }
    let invalid = merge_by.is_empty()
        || merge_by.len() > 2
        || merge_by
            .iter()
            .any(|name| people::field_kind(name).is_none())
        || (merge_by.len() == 2 && merge_by[0] == merge_by[1]);
    if invalid {
        return Err(ApiError::bad_request(
            "invalid_merge_by",
            "merge_by takes one or two different field names (main, fallback) such as \
             \"str::email\" or \"str:cm:customer-id\", or [\"person_id\"] alone",
        ));
    }
    Ok(merge_by.to_vec())
}

/// The request's fields, checked against their prefixes: text trimmed (blank text is left
/// out, so it never erases a value), integers and booleans as JSON numbers and booleans.
fn checked_fields(raw: &BTreeMap<String, FieldValue>) -> ApiResult<Fields> {
    let mut fields = Fields::new();
    for (name, value) in raw {
        let kind = people::field_kind(name).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_field",
                format!(
                    "unknown field {name:?}: names are str::, int:: or bool:: followed by \
                     letters, digits, - or _ (custom fields: str:cm:, int:cm:, bool:cm:)"
                ),
            )
        })?;
        let value = match (kind, value) {
            (FieldKind::Text, FieldValue::Text(text)) => {
                let text = text.trim();
                if text.chars().count() > MAX_FIELD_CHARS {
                    return Err(ApiError::bad_request(
                        "field_too_long",
                        format!("{name} is longer than {MAX_FIELD_CHARS} characters"),
                    ));
                }
                if text.is_empty() {
                    continue;
                }
                Value::from(text)
            }
            (FieldKind::Integer, FieldValue::Integer(number)) => Value::from(*number),
            (FieldKind::Bool, FieldValue::Bool(flag)) => Value::from(*flag),
            (kind, _) => {
                return Err(ApiError::bad_request(
                    "invalid_field_value",
                    format!("{name} takes {}", kind.describe()),
                ))
            }
        };
        fields.insert(name.clone(), value);
    }
    let email = people::text_field(&fields, field::EMAIL).ok_or_else(|| {
        ApiError::bad_request("missing_email", "fields[\"str::email\"] is required")
    })?;
    if !people::is_valid_email(email) {
        return Err(ApiError::bad_request(
            "invalid_email",
            "fields[\"str::email\"] is not a valid email address",
        ));
    }
    if people::text_field(&fields, field::NAME).is_none() {
        return Err(ApiError::bad_request(
            "missing_name",
            "fields[\"str::name\"] is required",
        ));
    }
    Ok(fields)
}

/// First and last name split from `str::name` at its first space, when the request gives
/// neither. They only ever fill empty fields.
fn names_from_full_name(fields: &Fields) -> Fields {
    let mut derived = Fields::new();
    if fields.contains_key(field::FIRST_NAME) || fields.contains_key(field::LAST_NAME) {
        return derived;
    }
    let Some(name) = people::text_field(fields, field::NAME) else {
        return derived;
    };
    let (first, last) = name.split_once(' ').unwrap_or((name, ""));
    derived.insert(field::FIRST_NAME.to_string(), first.into());
    if !last.trim().is_empty() {
        derived.insert(field::LAST_NAME.to_string(), last.trim().into());
    }
    derived
}

fn source_ip(request: &TalkSessionRequest) -> ApiResult<Option<IpAddr>> {
    let Some(text) = request
        .location
        .as_ref()
        .and_then(|location| location.source_ip.as_deref())
        .map(str::trim)
        .filter(|text| !text.is_empty())
    else {
        return Ok(None);
    };
    text.parse().map(Some).map_err(|_| {
        ApiError::bad_request(
            "invalid_source_ip",
            "location.source_ip must be an IPv4 or IPv6 address",
        )
    })
}

/// A validated request: how to find the person and what to write.
struct Merge {
    keys: Vec<String>,
    find: FindStrategy,
    strategy: MergeStrategy,
    skip_non_existing: bool,
    person_id: Option<String>,
    fields: Fields,
    derived_names: Fields,
}

impl Merge {
    fn from_request(request: &TalkSessionRequest) -> ApiResult<Self> {
        let strategy = merge_strategy(request.merge_strategy)?;
        let find = find_strategy(request.find_strategy)?;
        let keys = merge_by(request.merge_by.as_deref())?;
        let fields = checked_fields(&request.fields)?;
        Ok(Merge {
            keys,
            find,
            strategy,
            skip_non_existing: request.skip_non_existing,
            person_id: request
                .person_id
                .as_deref()
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_string),
            derived_names: names_from_full_name(&fields),
            fields,
        })
    }

    /// A merge field and its value in the request; `None` when absent or blank.
    fn key<'a>(&'a self, name: &'a String) -> Option<(&'a str, &'a Value)> {
        self.fields.get(name).map(|value| (name.as_str(), value))
    }

    async fn find_by_merge_fields(&self, db: &Db, workspace_id: &str) -> ApiResult<Option<Person>> {
        let key = |name| self.key(name);
        let main = self.keys.first().and_then(key);
        let fallback = self.keys.get(1).and_then(key);
        let found = match self.find {
            FindStrategy::Any => {
                match people::find_matching(db, workspace_id, main.as_slice()).await? {
                    Some(person) => Some(person),
                    None => people::find_matching(db, workspace_id, fallback.as_slice()).await?,
                }
            }
            FindStrategy::FallbackIfMainEmpty => match main {
                Some(_) => people::find_matching(db, workspace_id, main.as_slice()).await?,
                None => people::find_matching(db, workspace_id, fallback.as_slice()).await?,
            },
            FindStrategy::All => {
                let keys: Option<Vec<_>> = self.keys.iter().map(key).collect();
                match keys {
                    Some(keys) => people::find_matching(db, workspace_id, &keys).await?,
                    // An empty value matches nobody.
                    None => None,
                }
            }
        };
        Ok(found)
    }

    /// Applies the request's fields to an existing person; true when something changed.
    fn apply_to(&self, person: &mut Person) -> bool {
        let changed = people::merge_fields(&mut person.fields, &self.fields, self.strategy);
        let named = self.strategy != MergeStrategy::Ignore
            && people::merge_fields(
                &mut person.fields,
                &self.derived_names,
                MergeStrategy::AppendOnly,
            );
        changed || named
    }

    fn new_person_fields(&self) -> Fields {
        let mut fields = self.fields.clone();
        people::merge_fields(&mut fields, &self.derived_names, MergeStrategy::AppendOnly);
        fields
    }
}

fn email_in_use() -> ApiError {
    ApiError::conflict(
        "email_in_use",
        "another person already has this str::email: find that person instead \
         (merge_by, person_id) or send a different email",
    )
}

async fn update(db: &Db, workspace_id: &str, merge: &Merge, person: &mut Person) -> ApiResult<()> {
    if merge.apply_to(person) {
        people::save(db, workspace_id, person)
            .await
            .map_err(|error| match error {
                StoreError::Conflict { .. } => email_in_use(),
                error => error.into(),
            })?;
    }
    Ok(())
}

/// Finds (by id, then by merge fields), updates or creates the person.
async fn resolve_person(
    db: &Db,
    workspace_id: &str,
    merge: &Merge,
) -> ApiResult<(Person, PersonStatus)> {
    let mut found = None;
    if let Some(person_id) = &merge.person_id {
        found = people::by_id(db, workspace_id, person_id)
            .await?
            .map(|person| (person, PersonStatus::ById));
    }
    if found.is_none() {
        found = merge
            .find_by_merge_fields(db, workspace_id)
            .await?
            .map(|person| (person, PersonStatus::ByMergeField));
    }
    if let Some((mut person, status)) = found {
        update(db, workspace_id, merge, &mut person).await?;
        return Ok((person, status));
    }
    if merge.skip_non_existing {
        return Err(ApiError::not_found(
            "person_not_found",
            "no person matches, and skip_non_existing forbids creating one",
        ));
    }
    if let Some(person) = people::insert(db, workspace_id, &merge.new_person_fields()).await? {
        return Ok((person, PersonStatus::Created));
    }
    // The email is taken: by the same person created concurrently (found now), or by
    // someone the merge fields do not match.
    match merge.find_by_merge_fields(db, workspace_id).await? {
        Some(mut person) => {
            update(db, workspace_id, merge, &mut person).await?;
            Ok((person, PersonStatus::ByMergeField))
        }
        None => Err(email_in_use()),
    }
}

pub async fn create(
    State(state): State<AppState>,
    ApiKeyWorkspace(workspace_id): ApiKeyWorkspace,
    ApiJson(request): ApiJson<TalkSessionRequest>,
) -> ApiResult<Json<TalkSessionResponse>> {
    let merge = Merge::from_request(&request)?;
    let source_ip = source_ip(&request)?;
    let (mut person, person_status) = resolve_person(&state.db, &workspace_id, &merge).await?;
    // Activity, not a field: recorded whatever the merge strategy.
    if let Some(ip) = source_ip {
        people::record_source_ip(&state.db, &workspace_id, &mut person, ip).await?;
    }

    let session_id = db::new_id();
    let now = db::now_ms();
    // The API channel's page talks as the person's own visitor.
    let visitor_id = match request.browser {
        true => Some(api_visitor(&state, &workspace_id, &person.id).await?),
        false => None,
    };
    state
        .db
        .insert_session(&SessionRecord {
            id: &session_id,
            workspace_id: &workspace_id,
            visitor_id: visitor_id.as_deref(),
            person_id: Some(&person.id),
            verified: true,
            kind: "api",
            preview: false,
            created_at: now,
        })
        .await?;

    let issued_at = tokens::now_secs();
    let claims = TalkClaims {
        typ: tokens::TALK_TYP.to_string(),
        ws: workspace_id.clone(),
        sub: person.id.clone(),
        sid: session_id.clone(),
        iat: issued_at,
        exp: issued_at + TOKEN_LIFETIME_SECS,
    };
    let key = tokens::active_key(&state.db, &workspace_id).await?;
    let token = tokens::sign(&key, &claims)?;
    let browser = match visitor_id {
        Some(visitor_id) => Some(browser_session(&state, &key, &claims, visitor_id)?),
        None => None,
    };
    Ok(Json(TalkSessionResponse {
        session_id,
        token,
        person_id: person.id,
        person_status,
        browser,
    }))
}

/// The visitor a person's API-channel sessions are: one per person, the same every time, so
/// each new session sees the conversations of the earlier ones. 32 hex chars, like a
/// widget's visitor id.
fn api_visitor_id(person_id: &str) -> String {
    people::derived_visitor_id("api", person_id)
}

/// The person's API-channel visitor, recorded and linked to the person.
async fn api_visitor(state: &AppState, workspace_id: &str, person_id: &str) -> ApiResult<String> {
    let visitor_id = api_visitor_id(person_id);
    people::upsert_visitor(&state.db, workspace_id, &visitor_id).await?;
    people::link_visitor(&state.db, workspace_id, &visitor_id, person_id).await?;
    Ok(visitor_id)
}

/// The browser-safe half of a minted session (seed 003): a short-lived socket token of the
/// same session, verified as the person, and token-free URLs, as the widget's session start
/// answers them.
fn browser_session(
    state: &AppState,
    key: &tokens::SigningKey,
    talk: &TalkClaims,
    visitor_id: String,
) -> ApiResult<BrowserSession> {
    let settings = &state.settings;
    let expires_at = settings.socket_token_expires_at(talk.iat);
    let claims = SocketClaims {
        typ: tokens::SOCKET_TYP.to_string(),
        ws: talk.ws.clone(),
        sid: talk.sid.clone(),
        vid: visitor_id,
        pid: Some(talk.sub.clone()),
        ver: true,
        pre: false,
        iat: talk.iat,
        exp: expires_at,
        kid: String::new(),
    };
    Ok(BrowserSession {
        session_id: talk.sid.clone(),
        session_token: tokens::sign(key, &claims)?,
        session_token_expires_at: expires_at.saturating_mul(1000),
        messages_url: settings.messages_url(),
        signalling_url: settings.socket_url(),
        ice_servers: ice::servers_for(settings, &talk.sid, talk.iat),
        ice_transport_policy: settings.ice_transport_policy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_persons_api_visitor_is_stable_and_shaped_like_a_widgets() {
        let id = api_visitor_id("9b8a7c6d5e4f3a2b1c0d9e8f");
        assert_eq!(id, api_visitor_id("9b8a7c6d5e4f3a2b1c0d9e8f"));
        assert_ne!(id, api_visitor_id("9b8a7c6d5e4f3a2b1c0d9e80"));
        assert_eq!(id.len(), 32);
        assert!(id
            .bytes()
            .all(|byte| byte.is_ascii_hexdigit() && !byte.is_ascii_uppercase()));
    }
}

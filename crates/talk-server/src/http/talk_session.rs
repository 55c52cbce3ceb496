//! `POST /v1/talk/session`: the site's backend mints a verified-session token (X-Api-Key).

use super::{ApiJson, ApiKeyWorkspace};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::people::{self, Fields, MergeStrategy, Person};
use crate::tokens::{self, TalkClaims};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use talk_protocol::{field, PersonStatus, TalkSessionRequest, TalkSessionResponse};

const TOKEN_LIFETIME_SECS: i64 = 365 * 24 * 60 * 60;
const PERSON_ID: &str = "person_id";

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

fn merge_by(value: Option<Vec<String>>) -> ApiResult<Vec<String>> {
    let merge_by = value.unwrap_or_else(|| vec![field::EMAIL.to_string()]);
    let invalid = merge_by.is_empty()
        || merge_by.len() > 2
        || merge_by.iter().any(|name| name.trim().is_empty())
        || (merge_by.len() > 1 && merge_by.iter().any(|name| name == PERSON_ID));
    if invalid {
        return Err(ApiError::bad_request(
            "invalid_merge_by",
            "merge_by takes one or two field names (main, fallback), or [\"person_id\"] alone",
        ));
    }
    Ok(merge_by)
}

/// The request's fields as JSON, with the email trimmed.
fn incoming_fields(request: &TalkSessionRequest) -> ApiResult<Fields> {
    let mut fields = Fields::new();
    for (name, value) in &request.fields {
        let value = serde_json::to_value(value)
            .map_err(|error| ApiError::Internal(format!("encoding a field: {error}")))?;
        fields.insert(name.clone(), value);
    }
    let email = people::text_field(&fields, field::EMAIL)
        .ok_or_else(|| {
            ApiError::bad_request("missing_email", "fields[\"str::email\"] is required")
        })?
        .to_string();
    if !people::is_valid_email(&email) {
        return Err(ApiError::bad_request(
            "invalid_email",
            "fields[\"str::email\"] is not a valid email address",
        ));
    }
    fields.insert(field::EMAIL.to_string(), email.into());
    if people::text_field(&fields, field::NAME).is_none() {
        return Err(ApiError::bad_request(
            "missing_name",
            "fields[\"str::name\"] is required",
        ));
    }
    Ok(fields)
}

/// Finds the person by the merge fields, following the find strategy.
async fn find_by_merge_fields(
    state: &AppState,
    workspace_id: &str,
    merge_by: &[String],
    strategy: FindStrategy,
    fields: &Fields,
) -> ApiResult<Option<Person>> {
    let value_of = |name: &String| {
        fields.get(name).filter(|value| {
            !value.is_null() && value.as_str().is_none_or(|text| !text.trim().is_empty())
        })
    };
    let main = &merge_by[0];
    let fallback = merge_by.get(1);
    let find = |name: &String| {
        let value = value_of(name).cloned();
        let name = name.clone();
        async move {
            match value {
                Some(value) => people::by_field(&state.db, workspace_id, &name, &value).await,
                None => Ok(None),
            }
        }
    };
    let found = match strategy {
        FindStrategy::Any => match find(main).await? {
            Some(person) => Some(person),
            None => match fallback {
                Some(fallback) => find(fallback).await?,
                None => None,
            },
        },
        FindStrategy::FallbackIfMainEmpty => match (value_of(main), fallback) {
            (None, Some(fallback)) => find(fallback).await?,
            _ => find(main).await?,
        },
        FindStrategy::All => {
            let person = find(main).await?;
            match (person, fallback) {
                (Some(person), Some(fallback)) => {
                    let matches = match (person.fields.get(fallback), value_of(fallback)) {
                        (Some(stored), Some(wanted)) if fallback == field::EMAIL => {
                            stored.as_str().map(people::normalize_email)
                                == wanted.as_str().map(people::normalize_email)
                        }
                        (Some(stored), Some(wanted)) => stored == wanted,
                        _ => false,
                    };
                    matches.then_some(person)
                }
                (person, _) => person,
            }
        }
    };
    Ok(found)
}

pub async fn create(
    State(state): State<AppState>,
    ApiKeyWorkspace(workspace_id): ApiKeyWorkspace,
    ApiJson(request): ApiJson<TalkSessionRequest>,
) -> ApiResult<Json<TalkSessionResponse>> {
    let merge_strategy = merge_strategy(request.merge_strategy)?;
    let find_strategy = find_strategy(request.find_strategy)?;
    let merge_by = merge_by(request.merge_by.clone())?;
    let fields = incoming_fields(&request)?;

    let mut found = None;
    if let Some(person_id) = request.person_id.as_deref().filter(|id| !id.is_empty()) {
        found = people::by_id(&state.db, &workspace_id, person_id)
            .await?
            .map(|person| (person, PersonStatus::ById));
    }
    if found.is_none() && merge_by[0] != PERSON_ID {
        found = find_by_merge_fields(&state, &workspace_id, &merge_by, find_strategy, &fields)
            .await?
            .map(|person| (person, PersonStatus::ByMergeField));
    }

    let (person, person_status) = match found {
        Some((mut person, status)) => {
            if people::merge_fields(&mut person.fields, &fields, merge_strategy) {
                people::save(&state.db, &workspace_id, &person)
                    .await
                    .map_err(|error| {
                        if db::is_unique_violation(&error) {
                            ApiError::conflict(
                                "email_in_use",
                                "another person already has this str::email",
                            )
                        } else {
                            error.into()
                        }
                    })?;
            }
            (person, status)
        }
        None if request.skip_non_existing => {
            return Err(ApiError::not_found(
                "person_not_found",
                "no person matches, and skip_non_existing forbids creating one",
            ));
        }
        None => {
            let (mut person, created) =
                people::create_or_get(&state.db, &workspace_id, &fields).await?;
            if created {
                (person, PersonStatus::Created)
            } else {
                // Created concurrently by another request: merge as if found.
                if people::merge_fields(&mut person.fields, &fields, merge_strategy) {
                    people::save(&state.db, &workspace_id, &person).await?;
                }
                (person, PersonStatus::ByMergeField)
            }
        }
    };

    let session_id = db::new_id();
    let now = db::now_ms();
    sqlx::query(
        "INSERT INTO sessions (id, workspace_id, visitor_id, person_id, verified, kind, created_at)
         VALUES (?, ?, NULL, ?, TRUE, 'api', ?)",
    )
    .bind(&session_id)
    .bind(&workspace_id)
    .bind(&person.id)
    .bind(now)
    .execute(&state.db)
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
    Ok(Json(TalkSessionResponse {
        session_id,
        token,
        person_id: person.id,
        person_status,
    }))
}

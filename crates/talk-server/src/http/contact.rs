//! Agent API (X-Api-Key, or the inbox's cookie for a conversation's contact): who a
//! conversation's contact is and what they browsed.

use super::extract::Actor;
use super::ApiKeyWorkspace;
use crate::actions::own_conversation;
use crate::error::{ApiError, ApiResult};
use crate::{page_views, people, AppState};
use axum::extract::{Path, State};
use axum::Json;
use talk_protocol::{Contact, PersonProfile};

pub async fn conversation_contact<A: Actor>(
    State(state): State<AppState>,
    actor: A,
    Path(conversation_id): Path<String>,
) -> ApiResult<Json<Contact>> {
    let workspace_id = actor.workspace_id();
    let conversation = own_conversation(&state, workspace_id, &conversation_id).await?;
    let visitor_id = conversation.visitor_id;
    let known = people::visitor_identity(&state.db, workspace_id, &visitor_id).await?;
    // The person the conversation was started as, else who the visitor said it is since.
    let person_id = conversation.person_id.clone().or(known.person_id);
    let person = match &person_id {
        Some(person_id) => people::by_id(&state.db, workspace_id, person_id).await?,
        None => None,
    };
    let verified_person_id = conversation
        .person_id
        .as_deref()
        .filter(|_| conversation.verified);
    let page_views =
        page_views::for_conversation(&state.db, workspace_id, &visitor_id, verified_person_id)
            .await?;
    let current_page = page_views
        .iter()
        .find(|view| view.visitor_id == visitor_id)
        .cloned();
    Ok(Json(Contact {
        person: person.as_ref().map(people::Person::detail),
        claimed: known.claim.as_ref().map(people::Claim::summary),
        visitor_id,
        verified: conversation.verified,
        current_page,
        page_views,
    }))
}

pub async fn person_profile(
    State(state): State<AppState>,
    ApiKeyWorkspace(workspace_id): ApiKeyWorkspace,
    Path(person_id): Path<String>,
) -> ApiResult<Json<PersonProfile>> {
    let person = people::by_id(&state.db, &workspace_id, &person_id)
        .await?
        .ok_or_else(|| ApiError::not_found("person_not_found", "no such person"))?;
    let page_views = page_views::for_person(&state.db, &workspace_id, &person.id).await?;
    Ok(Json(PersonProfile {
        person: person.detail(),
        page_views,
    }))
}

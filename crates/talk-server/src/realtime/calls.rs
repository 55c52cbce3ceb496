//! Calls around the rules of `crate::calls`: load the call, apply a step, save it if nobody
//! changed it meanwhile, then publish (the call to the conversation; a signal to the other
//! side only). Also what no client says: a call that rings out, and a side whose connections
//! are all gone for [`CALL_GRACE_SECS`].

use super::hub::{Except, Topic};
use super::publish;
use crate::calls::{record_text, Actor, CallRecord, Refusal};
use crate::conversations::{self, Appended, NewMessage};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::rate_limit::rate_limited;
use crate::AppState;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;
use talk_protocol::{
    call_error, Author, CallSignal, CallState, ServerEvent, CALL_GRACE_SECS, MAX_CANDIDATE_BYTES,
    MAX_SDP_BYTES, RING_SECS,
};

/// This node's view of calls: which parties here take part in one (so a connection that
/// closes knows to look), and the call rate limits.
pub struct Calls {
    parties: Mutex<HashSet<String>>,
    /// Calls one session (a widget session, an agent) may start: 3 at once, then one every
    /// 10 s.
    starts: DefaultKeyedRateLimiter<String>,
    /// Signals one party may send: 60 at once (an offer's burst of candidates), then 20 a
    /// second.
    signals: DefaultKeyedRateLimiter<String>,
}

impl Default for Calls {
    fn default() -> Self {
        let per = |period: Duration, burst: u32| {
            Quota::with_period(period)
                .expect("a period above zero")
                .allow_burst(NonZeroU32::new(burst).expect("a burst above zero"))
        };
        Calls {
            parties: Mutex::default(),
            starts: RateLimiter::keyed(per(Duration::from_secs(10), 3)),
            signals: RateLimiter::keyed(per(Duration::from_millis(50), 60)),
        }
    }
}

impl Calls {
    fn parties(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.parties
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `party` took part in a call on this node (its connection closing must look).
    pub fn has_party(&self, party: &str) -> bool {
        self.parties().contains(party)
    }

    /// Drops rate-limit slots idle long enough to be indistinguishable from new.
    pub fn forget_idle(&self) {
        self.starts.retain_recent();
        self.signals.retain_recent();
    }

    fn check(limiter: &DefaultKeyedRateLimiter<String>, key: &str) -> ApiResult<()> {
        limiter.check_key(&key.to_string()).map_err(|not_until| {
            rate_limited(not_until.wait_time_from(DefaultClock::default().now()))
        })
    }
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::NotInCall => ApiError::forbidden(
            call_error::NOT_IN_CALL,
            "this session is not a side of the call",
        ),
        Refusal::State(why) => ApiError::conflict(call_error::CALL_STATE, why),
    }
}

pub fn call_not_found() -> ApiError {
    ApiError::not_found(call_error::CALL_NOT_FOUND, "no such call")
}

/// The call, for a caller that then checks it may see its conversation.
pub async fn find(state: &AppState, call_id: &str) -> ApiResult<CallRecord> {
    state
        .db
        .call_by_id(call_id)
        .await?
        .ok_or_else(call_not_found)
}

/// Starts a ringing call (the caller checked the conversation, the workspace's voice setting
/// and, for a visitor, that an agent is online). Starting again under the same id answers
/// the call as it is.
pub async fn start(
    state: &AppState,
    session_key: &str,
    record: CallRecord,
    except: Except<'_>,
) -> ApiResult<CallRecord> {
    Calls::check(&state.calls.starts, session_key)?;
    if let Err(error) = state.db.insert_call(&record).await {
        if !error.is_conflict() {
            return Err(error.into());
        }
        return match state.db.call_by_id(&record.call.id).await? {
            Some(earlier) if earlier.call.conversation_id == record.call.conversation_id => {
                Ok(earlier)
            }
            Some(_) => Err(ApiError::conflict(
                call_error::CALL_STATE,
                "that call id is taken: make a new UUID",
            )),
            None => Err(ApiError::conflict(
                call_error::CALL_IN_PROGRESS,
                "this conversation has a call ringing or running already",
            )),
        };
    }
    let caller_party = record
        .visitor_party
        .clone()
        .or_else(|| record.agent_party.clone());
    if let Some(party) = caller_party {
        state.calls.parties().insert(party);
    }
    publish_call(state, &record, except);
    // Rings out unless answered; after a restart, `end_calls_left_running` does it.
    let ringing = (state.clone(), record.call.id.clone());
    tokio::spawn(async move {
        let (state, call_id) = ringing;
        tokio::time::sleep(Duration::from_secs(RING_SECS)).await;
        if let Err(error) = change(&state, &call_id, |call| Ok(call.ring_out(db::now_ms()))).await {
            tracing::warn!(%error, "a call that rang out");
        }
    });
    Ok(record)
}

/// Accepts or declines a ringing call.
pub async fn answer(
    state: &AppState,
    call_id: &str,
    actor: Actor<'_>,
    accept: bool,
) -> ApiResult<()> {
    let changed = change(state, call_id, |call| {
        call.answer(actor, accept, db::now_ms()).map(Some)
    })
    .await?;
    if changed.is_some() && accept {
        state.calls.parties().insert(actor.party().to_string());
    }
    Ok(())
}

pub async fn connected(state: &AppState, call_id: &str, actor: Actor<'_>) -> ApiResult<()> {
    change(state, call_id, |call| call.connected(actor, db::now_ms())).await?;
    Ok(())
}

pub async fn hang_up(
    state: &AppState,
    call_id: &str,
    actor: Actor<'_>,
    failed: bool,
) -> ApiResult<()> {
    change(state, call_id, |call| {
        call.hang_up(actor, failed, db::now_ms()).map(Some)
    })
    .await?;
    Ok(())
}

/// Relays a signal to the other side of the call, and to nobody else.
pub async fn signal(
    state: &AppState,
    call: &CallRecord,
    actor: Actor<'_>,
    signal: CallSignal,
) -> ApiResult<()> {
    let (limit, len) = match &signal {
        CallSignal::Offer { .. } | CallSignal::Answer { .. } => (MAX_SDP_BYTES, signal.text_len()),
        CallSignal::Candidate { .. } => (MAX_CANDIDATE_BYTES, signal.text_len()),
    };
    if len > limit {
        return Err(ApiError::bad_request(
            call_error::INVALID_SIGNAL,
            format!("a signal of this kind carries at most {limit} bytes"),
        ));
    }
    if let CallSignal::Offer { sdp } | CallSignal::Answer { sdp } = &signal {
        if !sdp.starts_with("v=0") {
            return Err(ApiError::bad_request(
                call_error::INVALID_SIGNAL,
                "a session description starts with v=0",
            ));
        }
    }
    Calls::check(&state.calls.signals, actor.party())?;
    let (from, to) = call.relay(actor).map_err(refused)?;
    publish::to_party(
        &state.hub,
        to,
        ServerEvent::CallSignal {
            call_id: call.call.id.clone(),
            from,
            signal,
        },
    );
    Ok(())
}

/// A live connection of `party` closed. After the grace, if none of its connections is back
/// on this node, its calls end.
pub fn party_left(state: &AppState, party: &str) {
    if !state.calls.has_party(party) {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let (state, party) = (state.clone(), party.to_string());
    runtime.spawn(async move {
        tokio::time::sleep(Duration::from_secs(CALL_GRACE_SECS)).await;
        if state.hub.has_subscribers(&[Topic::Party(party.clone())]) {
            return;
        }
        if let Err(error) = end_calls_of(&state, Some(&party)).await {
            tracing::warn!(%error, "ending the calls of a connection that left");
        }
    });
}

/// Ends every live call of `party` as lost, or every live call at all (`None`): at start-up
/// of a single node, whose calls all belonged to its previous run.
pub async fn end_calls_of(state: &AppState, party: Option<&str>) -> ApiResult<()> {
    let calls = state.db.live_calls(party).await?;
    for call in calls {
        let lost_party = match party {
            Some(party) => party.to_string(),
            None => match call
                .visitor_party
                .clone()
                .or_else(|| call.agent_party.clone())
            {
                Some(party) => party,
                None => continue,
            },
        };
        change(state, &call.call.id, |call| {
            Ok(call.lost(&lost_party, db::now_ms()))
        })
        .await?;
    }
    if let Some(party) = party {
        state.calls.parties().remove(party);
    }
    Ok(())
}

/// Applies `step` to the call as stored, again if another change got in first; publishes
/// the result. `Ok(None)`: the step changed nothing.
async fn change(
    state: &AppState,
    call_id: &str,
    step: impl Fn(&CallRecord) -> Result<Option<CallRecord>, Refusal>,
) -> ApiResult<Option<CallRecord>> {
    for _ in 0..8 {
        let current = find(state, call_id).await?;
        let Some(mut next) = step(&current).map_err(refused)? else {
            return Ok(None);
        };
        next.version = current.version + 1;
        if state.db.save_call(&next, current.version).await? {
            publish_call(state, &next, Except::Nobody);
            if next.call.state == CallState::Ended {
                record(state, &next).await?;
                // Connected time was counted with this save (a preview's too, which only
                // costs the check: it reads production's counts).
                if next.call.duration_ms > 0 {
                    crate::usage::quota::check_warnings(state, &next.workspace_id);
                }
                for party in [&next.visitor_party, &next.agent_party]
                    .into_iter()
                    .flatten()
                {
                    state.calls.parties().remove(party);
                }
            }
            return Ok(Some(next));
        }
    }
    Err(ApiError::conflict(
        call_error::CALL_STATE,
        "the call changed too often at once: try again",
    ))
}

fn publish_call(state: &AppState, record: &CallRecord, except: Except) {
    publish::in_conversation(
        &state.hub,
        &record.workspace_id,
        &record.call.conversation_id,
        ServerEvent::Call {
            call: record.call.clone(),
        },
        except,
    );
}

/// The message that records an ended call, under the caller's name. Idempotent on the call's
/// id: however many paths end the call, it is written once.
async fn record(state: &AppState, record: &CallRecord) -> ApiResult<()> {
    let message = NewMessage {
        author: Author {
            kind: record.call.caller,
            name: record.caller_name.clone(),
        },
        body: record_text(&record.call),
        client_msg_id: Some(record.call.id.clone()),
        reopens: false,
        auto_reply: false,
    };
    let appended =
        conversations::append(&state.messages, &record.call.conversation_id, message).await?;
    if let Appended::New { message, .. } = appended {
        publish::in_conversation(
            &state.hub,
            &record.workspace_id,
            &record.call.conversation_id,
            ServerEvent::Message { message },
            Except::Nobody,
        );
    }
    Ok(())
}

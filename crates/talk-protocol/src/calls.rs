//! Voice calls between a conversation's visitor and an agent: the call as both sides see it,
//! and the WebRTC signalling the server relays between them (see `ClientEvent::CallStart` and
//! the other `call_*` events). Media goes browser to browser, or through the operator's TURN
//! server; the server only relays signalling and keeps the call record.

use serde::{Deserialize, Serialize};

use crate::AuthorKind;

/// One call in a conversation, as `ServerEvent::Call` announces it on every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The caller's UUID: starting twice under one id is one call.
    pub id: String,
    pub conversation_id: String,
    /// Who called: `visitor` or `agent`.
    pub caller: AuthorKind,
    pub state: CallState,
    /// Set once the call has ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<CallOutcome>,
    /// The agent taking part: the caller, or whoever accepted the visitor's call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<i64>,
    /// When both ends had reported their media connected: what the duration counts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
    /// Connected time in milliseconds, from both ends connected to hang-up (0 if never
    /// connected): what voice minutes are metered by.
    #[serde(default)]
    pub duration_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// Waiting for the other side to accept or decline.
    Ringing,
    /// Accepted: the two browsers negotiate and talk.
    Active,
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// Connected, then hung up by either side.
    Completed,
    /// Nobody answered within [`RING_SECS`], or the caller gave up first.
    Missed,
    Declined,
    /// Accepted but never connected (no microphone, no network path, a refused TURN
    /// credential), or a side's connection was lost before it connected.
    Failed,
}

/// One step of WebRTC negotiation, relayed to the other side as it is. The visitor's browser
/// always makes the offers (the first, and one more when it starts or stops sharing its
/// screen) and the agent's answers, so offers never cross.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallSignal {
    Offer {
        sdp: String,
    },
    Answer {
        sdp: String,
    },
    /// A trickled ICE candidate (`RTCIceCandidateInit`); an empty `candidate` ends them.
    Candidate {
        candidate: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_m_line_index: Option<u16>,
    },
}

impl CallSignal {
    /// Bytes of text it carries, for the size bound.
    pub fn text_len(&self) -> usize {
        match self {
            CallSignal::Offer { sdp } | CallSignal::Answer { sdp } => sdp.len(),
            CallSignal::Candidate {
                candidate, sdp_mid, ..
            } => candidate.len() + sdp_mid.as_ref().map_or(0, String::len),
        }
    }
}

/// Seconds a call rings before it counts as missed.
pub const RING_SECS: u64 = 45;
/// Longest session description relayed, in bytes. Chromium's audio offer is about 3 KB and
/// one with a screen's video about 6 KB.
pub const MAX_SDP_BYTES: usize = 12 * 1024;
/// Longest ICE candidate line relayed, in bytes.
pub const MAX_CANDIDATE_BYTES: usize = 1024;
/// Seconds a side's connection may be gone (no socket or stream of its session left) before
/// its call ends: a tab that closed, or a network that stayed down.
pub const CALL_GRACE_SECS: u64 = 3;

/// Error codes of the `call_*` events.
pub mod call_error {
    /// The workspace has voice calls switched off.
    pub const VOICE_OFF: &str = "voice_off";
    /// A visitor called while no agent was online.
    pub const NO_AGENT_ONLINE: &str = "no_agent_online";
    /// The conversation has a call ringing or running already.
    pub const CALL_IN_PROGRESS: &str = "call_in_progress";
    /// No such call in a conversation this session may see.
    pub const CALL_NOT_FOUND: &str = "call_not_found";
    /// This session is not a side of the call (another tab, another agent, a third party).
    pub const NOT_IN_CALL: &str = "not_in_call";
    /// The call is not in a state that allows this (answering a call that ended, a signal
    /// before the call was accepted).
    pub const CALL_STATE: &str = "call_state";
    /// The signal is malformed or too big.
    pub const INVALID_SIGNAL: &str = "invalid_signal";
}

#[cfg(all(test, feature = "calls"))]
mod tests {
    use super::*;
    use crate::{ClientEvent, ServerEvent};
    use serde_json::json;

    #[test]
    fn call_events_have_their_wire_shape() {
        let start: ClientEvent = serde_json::from_value(json!({
            "type": "call_start", "conversation_id": "c", "call_id": "k"
        }))
        .unwrap();
        assert_eq!(
            start,
            ClientEvent::CallStart {
                conversation_id: "c".into(),
                call_id: "k".into()
            }
        );
        let candidate: ClientEvent = serde_json::from_value(json!({
            "type": "call_signal", "call_id": "k",
            "signal": {"kind": "candidate", "candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host",
                       "sdp_mid": "0", "sdp_m_line_index": 0}
        }))
        .unwrap();
        let ClientEvent::CallSignal { signal, .. } = &candidate else {
            panic!("{candidate:?}");
        };
        assert_eq!(
            signal.text_len(),
            "candidate:1 1 udp 1 127.0.0.1 5000 typ host".len() + 1
        );
        let relayed = ServerEvent::CallSignal {
            call_id: "k".into(),
            from: AuthorKind::Agent,
            signal: CallSignal::Answer { sdp: "v=0".into() },
        };
        assert_eq!(
            serde_json::to_value(&relayed).unwrap(),
            json!({"type": "call_signal", "call_id": "k", "from": "agent",
                   "signal": {"kind": "answer", "sdp": "v=0"}})
        );
        let hangup: ClientEvent =
            serde_json::from_value(json!({"type": "call_hangup", "call_id": "k"})).unwrap();
        assert_eq!(
            hangup,
            ClientEvent::CallHangup {
                call_id: "k".into(),
                failed: false
            }
        );
    }
}

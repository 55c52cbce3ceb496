//! Voice calls: the stored call and the rules of its life, as plain functions of the record
//! (`realtime::calls` loads, saves and publishes around them). A call rings, is accepted or
//! declined, runs while the two browsers talk, and ends with an outcome; the conversation
//! gets a message that records it.
//!
//! Who takes part is stored with the call: the visitor's widget session (each tab has its
//! own) and the agent's inbox connection. Only those two relay signalling to each other, so
//! another tab, another agent or another visitor can't inject a candidate.

use talk_protocol::{AuthorKind, Call, CallOutcome, CallState, RING_SECS};

/// A call as stored: what both sides see, and what only the server knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub call: Call,
    pub workspace_id: String,
    /// The caller's name, which the call's record message is written under.
    pub caller_name: Option<String>,
    /// The visitor's widget session, once it takes part.
    pub visitor_party: Option<String>,
    /// The agent's inbox connection, once it takes part.
    pub agent_party: Option<String>,
    pub visitor_connected_at: Option<i64>,
    pub agent_connected_at: Option<i64>,
    /// Moves with every change: a change computed from an older version is refused.
    pub version: i64,
}

/// Who acts on a call.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// A visitor's widget session.
    Visitor { party: &'a str },
    /// An agent's inbox connection.
    Agent {
        party: &'a str,
        agent_id: &'a str,
        agent_name: &'a str,
    },
}

impl Actor<'_> {
    pub fn kind(&self) -> AuthorKind {
        match self {
            Actor::Visitor { .. } => AuthorKind::Visitor,
            Actor::Agent { .. } => AuthorKind::Agent,
        }
    }

    pub fn party(&self) -> &str {
        match self {
            Actor::Visitor { party } | Actor::Agent { party, .. } => party,
        }
    }
}

/// Why a step was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The actor is not a side of the call.
    NotInCall,
    /// Not in this state: what the state allows.
    State(&'static str),
}

impl CallRecord {
    /// A call that starts ringing now.
    pub fn ringing(
        id: &str,
        workspace_id: &str,
        conversation_id: &str,
        caller: Actor,
        caller_name: Option<String>,
        now: i64,
    ) -> CallRecord {
        let (agent_id, agent_name, visitor_party, agent_party) = match caller {
            Actor::Visitor { party } => (None, None, Some(party.to_string()), None),
            Actor::Agent {
                party,
                agent_id,
                agent_name,
            } => (
                Some(agent_id.to_string()),
                Some(agent_name.to_string()),
                None,
                Some(party.to_string()),
            ),
        };
        CallRecord {
            call: Call {
                id: id.to_string(),
                conversation_id: conversation_id.to_string(),
                caller: caller.kind(),
                state: CallState::Ringing,
                outcome: None,
                agent_id,
                agent_name,
                created_at: now,
                answered_at: None,
                connected_at: None,
                ended_at: None,
                duration_ms: 0,
            },
            workspace_id: workspace_id.to_string(),
            caller_name,
            visitor_party,
            agent_party,
            visitor_connected_at: None,
            agent_connected_at: None,
            version: 0,
        }
    }

    /// The side `actor` takes in the call, if any.
    pub fn side_of(&self, actor: Actor) -> Option<AuthorKind> {
        let party = match actor {
            Actor::Visitor { .. } => &self.visitor_party,
            Actor::Agent { .. } => &self.agent_party,
        };
        (party.as_deref() == Some(actor.party())).then_some(actor.kind())
    }

    /// The called side accepts or declines. A visitor's call can be taken by any agent of the
    /// workspace, an agent's by any tab of the visitor's (the caller checks that it sees the
    /// conversation); the first to answer takes it.
    pub fn answer(&self, actor: Actor, accept: bool, now: i64) -> Result<CallRecord, Refusal> {
        if self.call.state != CallState::Ringing {
            return Err(Refusal::State("only a ringing call can be answered"));
        }
        if actor.kind() == self.call.caller {
            return Err(Refusal::NotInCall);
        }
        if !accept {
            return Ok(self.ended(CallOutcome::Declined, now));
        }
        let mut next = self.clone();
        next.call.state = CallState::Active;
        next.call.answered_at = Some(now);
        match actor {
            Actor::Visitor { party } => next.visitor_party = Some(party.to_string()),
            Actor::Agent {
                party,
                agent_id,
                agent_name,
            } => {
                next.agent_party = Some(party.to_string());
                next.call.agent_id = Some(agent_id.to_string());
                next.call.agent_name = Some(agent_name.to_string());
            }
        }
        Ok(next)
    }

    /// A side's media connected. The call counts as connected once both sides have said so;
    /// `None` when this changes nothing (said before).
    pub fn connected(&self, actor: Actor, now: i64) -> Result<Option<CallRecord>, Refusal> {
        let side = self.side_of(actor).ok_or(Refusal::NotInCall)?;
        if self.call.state != CallState::Active {
            return Err(Refusal::State("only an accepted call connects"));
        }
        let mut next = self.clone();
        let mark = match side {
            AuthorKind::Visitor => &mut next.visitor_connected_at,
            _ => &mut next.agent_connected_at,
        };
        if mark.is_some() {
            return Ok(None);
        }
        *mark = Some(now);
        if let (Some(_), Some(_)) = (next.visitor_connected_at, next.agent_connected_at) {
            next.call.connected_at = Some(now);
        }
        Ok(Some(next))
    }

    /// A side hangs up: the caller giving up on a ringing call makes it missed, the called
    /// side's hang-up declines it. `failed`: the side could not take part.
    pub fn hang_up(&self, actor: Actor, failed: bool, now: i64) -> Result<CallRecord, Refusal> {
        match self.call.state {
            CallState::Ended => Err(Refusal::State("the call has ended")),
            CallState::Ringing if actor.kind() != self.call.caller => {
                Ok(self.ended(CallOutcome::Declined, now))
            }
            _ => {
                self.side_of(actor).ok_or(Refusal::NotInCall)?;
                let unconnected = if failed || self.call.state == CallState::Active {
                    CallOutcome::Failed
                } else {
                    CallOutcome::Missed
                };
                Ok(self.ended(unconnected, now))
            }
        }
    }

    /// `party`'s connection is gone for good (its tab closed, or its network stayed down).
    pub fn lost(&self, party: &str, now: i64) -> Option<CallRecord> {
        let takes_part = self.visitor_party.as_deref() == Some(party)
            || self.agent_party.as_deref() == Some(party);
        if !takes_part || self.call.state == CallState::Ended {
            return None;
        }
        let unconnected = match self.call.state {
            CallState::Ringing => CallOutcome::Missed,
            _ => CallOutcome::Failed,
        };
        Some(self.ended(unconnected, now))
    }

    /// Nobody answered in time: missed.
    pub fn ring_out(&self, now: i64) -> Option<CallRecord> {
        let due = self.call.created_at + (RING_SECS as i64) * 1000;
        (self.call.state == CallState::Ringing && now >= due)
            .then(|| self.ended(CallOutcome::Missed, now))
    }

    /// Where `actor`'s signal goes: its side, and the other side's party.
    pub fn relay(&self, actor: Actor) -> Result<(AuthorKind, &str), Refusal> {
        let side = self.side_of(actor).ok_or(Refusal::NotInCall)?;
        if self.call.state != CallState::Active {
            return Err(Refusal::State("signals flow once the call is accepted"));
        }
        let other = match side {
            AuthorKind::Visitor => self.agent_party.as_deref(),
            _ => self.visitor_party.as_deref(),
        };
        other
            .map(|party| (side, party))
            .ok_or(Refusal::State("the call has no other side yet"))
    }

    /// Ended now: completed if it had connected (its duration from then), else `unconnected`.
    fn ended(&self, unconnected: CallOutcome, now: i64) -> CallRecord {
        let mut next = self.clone();
        next.call.state = CallState::Ended;
        next.call.ended_at = Some(now);
        match self.call.connected_at {
            Some(connected_at) => {
                next.call.outcome = Some(CallOutcome::Completed);
                next.call.duration_ms = (now - connected_at).max(0);
            }
            None => next.call.outcome = Some(unconnected),
        }
        next
    }
}

/// The text of the message that records an ended call: "Voice call · 3 min 12 s", "Missed
/// voice call" …
pub fn record_text(call: &Call) -> String {
    match call.outcome {
        Some(CallOutcome::Completed) => format!("Voice call · {}", duration_text(call.duration_ms)),
        Some(CallOutcome::Missed) => "Missed voice call".into(),
        Some(CallOutcome::Declined) => "Declined voice call".into(),
        Some(CallOutcome::Failed) | None => "Voice call failed to connect".into(),
    }
}

/// `42 s`, `3 min 12 s`, `1 h 0 min 5 s`: whole seconds, rounded down.
pub fn duration_text(duration_ms: i64) -> String {
    let seconds = duration_ms.max(0) / 1000;
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 {
        format!("{hours} h {minutes} min {seconds} s")
    } else if minutes > 0 {
        format!("{minutes} min {seconds} s")
    } else {
        format!("{seconds} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VISITOR: Actor = Actor::Visitor { party: "tab-1" };
    const OTHER_TAB: Actor = Actor::Visitor { party: "tab-2" };
    const AGENT: Actor = Actor::Agent {
        party: "n/1",
        agent_id: "a1",
        agent_name: "Sam",
    };
    const OTHER_AGENT: Actor = Actor::Agent {
        party: "n/2",
        agent_id: "a2",
        agent_name: "Kim",
    };

    fn visitor_call() -> CallRecord {
        CallRecord::ringing("k", "w", "c", VISITOR, Some("Ada".into()), 1_000)
    }

    #[test]
    fn a_visitors_call_is_accepted_connects_and_is_timed_from_both_ends_connected() {
        let call = visitor_call();
        assert_eq!(call.answer(VISITOR, true, 2_000), Err(Refusal::NotInCall));
        let call = call.answer(AGENT, true, 2_000).unwrap();
        assert_eq!(call.call.state, CallState::Active);
        assert_eq!(call.call.agent_name.as_deref(), Some("Sam"));
        // The first answer took it.
        assert!(call.answer(OTHER_AGENT, true, 2_100).is_err());
        let call = call.connected(VISITOR, 3_000).unwrap().unwrap();
        assert_eq!(call.call.connected_at, None);
        assert_eq!(call.connected(VISITOR, 3_100), Ok(None));
        let call = call.connected(AGENT, 4_000).unwrap().unwrap();
        assert_eq!(call.call.connected_at, Some(4_000));
        let ended = call.hang_up(AGENT, false, 4_000 + 192_000).unwrap();
        assert_eq!(ended.call.outcome, Some(CallOutcome::Completed));
        assert_eq!(ended.call.duration_ms, 192_000);
        assert_eq!(record_text(&ended.call), "Voice call · 3 min 12 s");
        assert!(ended.hang_up(VISITOR, false, 200_000).is_err());
    }

    #[test]
    fn only_the_two_sides_relay_and_only_to_each_other() {
        let ringing = visitor_call();
        assert!(matches!(ringing.relay(VISITOR), Err(Refusal::State(_))));
        let call = ringing.answer(AGENT, true, 2_000).unwrap();
        assert_eq!(call.relay(VISITOR), Ok((AuthorKind::Visitor, "n/1")));
        assert_eq!(call.relay(AGENT), Ok((AuthorKind::Agent, "tab-1")));
        assert_eq!(call.relay(OTHER_TAB), Err(Refusal::NotInCall));
        assert_eq!(call.relay(OTHER_AGENT), Err(Refusal::NotInCall));
        assert_eq!(
            call.hang_up(OTHER_TAB, false, 3_000),
            Err(Refusal::NotInCall)
        );
        assert_eq!(call.connected(OTHER_AGENT, 3_000), Err(Refusal::NotInCall));
    }

    #[test]
    fn declined_missed_and_failed_calls_say_so() {
        let agent_call = CallRecord::ringing("k", "w", "c", AGENT, Some("Sam".into()), 0);
        // Any tab of the visitor may answer; the caller can't.
        assert_eq!(
            agent_call.answer(OTHER_AGENT, false, 1),
            Err(Refusal::NotInCall)
        );
        let declined = agent_call.answer(OTHER_TAB, false, 1).unwrap();
        assert_eq!(declined.call.outcome, Some(CallOutcome::Declined));
        assert_eq!(record_text(&declined.call), "Declined voice call");
        // The called side hanging up a ringing call declines it too.
        let declined = visitor_call().hang_up(OTHER_AGENT, false, 5).unwrap();
        assert_eq!(declined.call.outcome, Some(CallOutcome::Declined));
        // The caller giving up, or nobody answering: missed.
        let gave_up = visitor_call().hang_up(VISITOR, false, 5).unwrap();
        assert_eq!(gave_up.call.outcome, Some(CallOutcome::Missed));
        assert_eq!(visitor_call().ring_out(1_000 + 44_999), None);
        let missed = visitor_call().ring_out(1_000 + 45_000).unwrap();
        assert_eq!(record_text(&missed.call), "Missed voice call");
        // Accepted but never connected.
        let accepted = visitor_call().answer(AGENT, true, 2_000).unwrap();
        let failed = accepted.hang_up(VISITOR, true, 9_000).unwrap();
        assert_eq!(
            (failed.call.outcome, failed.call.duration_ms),
            (Some(CallOutcome::Failed), 0)
        );
        assert_eq!(accepted.ring_out(100_000), None);
    }

    #[test]
    fn a_lost_side_ends_its_calls_only() {
        let accepted = visitor_call().answer(AGENT, true, 2_000).unwrap();
        assert_eq!(accepted.lost("tab-2", 3_000), None);
        let connected = accepted
            .connected(VISITOR, 3_000)
            .unwrap()
            .unwrap()
            .connected(AGENT, 3_500)
            .unwrap()
            .unwrap();
        let ended = connected.lost("tab-1", 65_500).unwrap();
        assert_eq!(ended.call.outcome, Some(CallOutcome::Completed));
        assert_eq!(ended.call.duration_ms, 62_000);
        assert_eq!(ended.lost("tab-1", 70_000), None);
        let missed = visitor_call().lost("tab-1", 2_000).unwrap();
        assert_eq!(missed.call.outcome, Some(CallOutcome::Missed));
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration_text(42_900), "42 s");
        assert_eq!(duration_text(192_000), "3 min 12 s");
        assert_eq!(duration_text(3_605_000), "1 h 0 min 5 s");
        assert_eq!(duration_text(-5), "0 s");
    }
}

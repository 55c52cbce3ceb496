-- Voice calls (talk_protocol::calls): the call record, and while a call lasts which sides
-- take part. Signalling itself is relayed, never stored.
CREATE TABLE calls (
    id                   TEXT PRIMARY KEY,
    workspace_id         TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    conversation_id      TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    caller               TEXT NOT NULL CHECK (caller IN ('visitor', 'agent')),
    caller_name          TEXT,
    state                TEXT NOT NULL CHECK (state IN ('ringing', 'active', 'ended')),
    outcome              TEXT CHECK (outcome IN ('completed', 'missed', 'declined', 'failed')),
    -- The visitor's side: its widget session id. The agent's side: its inbox connection.
    visitor_party        TEXT,
    agent_party          TEXT,
    agent_id             TEXT,
    agent_name           TEXT,
    created_at           INTEGER NOT NULL,
    answered_at          INTEGER,
    visitor_connected_at INTEGER,
    agent_connected_at   INTEGER,
    connected_at         INTEGER,
    ended_at             INTEGER,
    -- Connected time (both sides connected to hang-up): what voice minutes are metered by.
    duration_ms          INTEGER NOT NULL DEFAULT 0,
    -- Bumped by every change: a change applies only to the version it was computed from.
    version              INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX calls_conversation ON calls(conversation_id, created_at);
-- One call rings or runs per conversation at a time.
CREATE UNIQUE INDEX calls_live ON calls(conversation_id) WHERE state != 'ended';

-- Capture widgets (talk_protocol::captures): messages the workspace sends first. The admin's
-- input is kept whole as JSON (talk_protocol::CaptureWidgetInput, validated on write); what
-- queries filter or join on has a column of its own beside it.
CREATE TABLE capture_widgets (
    id              TEXT PRIMARY KEY NOT NULL,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    -- The workspace's order: a page view is offered the first eligible widget in it.
    position        INTEGER NOT NULL,
    input           TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL,
    -- The sending agent (also in `input`), joined for its name and photo; NULL: the bot. No
    -- foreign key: a removed agent's widget is offered to nobody until an admin names another
    -- sender, rather than quietly becoming the bot's.
    sender_agent_id TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX capture_widgets_workspace ON capture_widgets(workspace_id, position);

-- What a capture did with a visitor. The unique indexes keep a script from inflating the
-- counts: one `shown` per widget session, one `dismissed` and one `replied` per visitor.
CREATE TABLE capture_events (
    id           INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    capture_id   TEXT NOT NULL REFERENCES capture_widgets(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('shown', 'dismissed', 'replied')),
    visitor_id   TEXT NOT NULL,
    session_id   TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX capture_events_shown ON capture_events(capture_id, session_id)
    WHERE kind = 'shown';
CREATE UNIQUE INDEX capture_events_once ON capture_events(capture_id, visitor_id, kind)
    WHERE kind != 'shown';
-- A visitor's history when offering (latest per capture and kind); the admins' counts.
CREATE INDEX capture_events_visitor
    ON capture_events(workspace_id, visitor_id, capture_id, kind, created_at);
CREATE INDEX capture_events_counts ON capture_events(capture_id, kind);

-- The capture widget a conversation was started by (a visitor's reply to it).
ALTER TABLE conversations ADD COLUMN capture_id TEXT
    REFERENCES capture_widgets(id) ON DELETE SET NULL;
CREATE INDEX conversations_capture ON conversations(capture_id, created_at);

-- Whether any capture widget of the workspace is enabled: read with the workspace, so a
-- widget session of a workspace without one asks nothing more.
ALTER TABLE workspaces ADD COLUMN captures_enabled BOOLEAN NOT NULL DEFAULT FALSE;

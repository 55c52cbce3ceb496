-- Usage metering, previews and quotas (issue 18, crate::usage).
--
-- `usage_days` holds one row per workspace, UTC day (days since 1970-01-01, `created_at /
-- 86400000`) and preview flag. Triggers keep it, in the counted row's own transaction, so the
-- counts can't drift from the data: a message, conversation or session is counted by its
-- INSERT, a call's voice minutes by the UPDATE that ends it. Rows are only ever added to:
-- deleting data (the preview clean-up, a workspace's removal aside) never uncounts it.
--
-- A call's record message (written under the call's id as its `client_msg_id`) is not a text
-- message: the call counts as voice minutes.

-- What the counters need to tell apart.
ALTER TABLE messages ADD COLUMN auto_reply BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE conversations ADD COLUMN outbound BOOLEAN NOT NULL DEFAULT FALSE;
-- Previews (the inbox's live preview and test mode): counted apart, listed nowhere, removed
-- after a day. A conversation takes its session's flag when it starts.
ALTER TABLE conversations ADD COLUMN preview BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE sessions ADD COLUMN preview BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX conversations_preview ON conversations(created_at) WHERE preview;
CREATE INDEX sessions_preview ON sessions(created_at) WHERE preview;

-- Monthly quotas (calendar month, UTC). NULL: no limit for that meter.
ALTER TABLE workspaces ADD COLUMN quota_mode TEXT NOT NULL DEFAULT 'off'
    CHECK (quota_mode IN ('off', 'soft', 'hard'));
ALTER TABLE workspaces ADD COLUMN quota_text_per_month INTEGER;
ALTER TABLE workspaces ADD COLUMN quota_voice_minutes_per_month INTEGER;

-- A threshold crossed in a month, recorded once, so the admins are warned once per node
-- cluster (the insert that wins publishes the warning).
CREATE TABLE quota_warnings (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    month        TEXT NOT NULL,
    metric       TEXT NOT NULL CHECK (metric IN ('text', 'voice')),
    level        INTEGER NOT NULL CHECK (level IN (80, 100)),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, month, metric, level)
);

CREATE TABLE usage_days (
    workspace_id           TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    day                    INTEGER NOT NULL,
    preview                BOOLEAN NOT NULL,
    text_visitor           INTEGER NOT NULL DEFAULT 0,
    text_agent             INTEGER NOT NULL DEFAULT 0,
    text_bot               INTEGER NOT NULL DEFAULT 0,
    text_auto_reply        INTEGER NOT NULL DEFAULT 0,
    -- Connected time, rounded up to the minute per call.
    voice_minutes          INTEGER NOT NULL DEFAULT 0,
    -- Calls that connected.
    calls                  INTEGER NOT NULL DEFAULT 0,
    conversations_inbound  INTEGER NOT NULL DEFAULT 0,
    conversations_outbound INTEGER NOT NULL DEFAULT 0,
    widget_sessions        INTEGER NOT NULL DEFAULT 0,
    api_sessions           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, day, preview)
);

CREATE TRIGGER messages_usage AFTER INSERT ON messages
BEGIN
    INSERT INTO usage_days
        (workspace_id, day, preview, text_visitor, text_agent, text_bot, text_auto_reply)
    SELECT c.workspace_id, NEW.created_at / 86400000, c.preview,
           NEW.author_kind = 'visitor', NEW.author_kind = 'agent',
           NEW.author_kind = 'bot' AND NOT NEW.auto_reply, NEW.auto_reply
    FROM conversations c
    WHERE c.id = NEW.conversation_id
      AND NOT EXISTS (SELECT 1 FROM calls k
                      WHERE k.id = NEW.client_msg_id AND k.conversation_id = NEW.conversation_id)
    ON CONFLICT (workspace_id, day, preview) DO UPDATE SET
        text_visitor = text_visitor + excluded.text_visitor,
        text_agent = text_agent + excluded.text_agent,
        text_bot = text_bot + excluded.text_bot,
        text_auto_reply = text_auto_reply + excluded.text_auto_reply;
END;

CREATE TRIGGER conversations_usage AFTER INSERT ON conversations
BEGIN
    INSERT INTO usage_days
        (workspace_id, day, preview, conversations_inbound, conversations_outbound)
    VALUES (NEW.workspace_id, NEW.created_at / 86400000, NEW.preview, NOT NEW.outbound,
            NEW.outbound)
    ON CONFLICT (workspace_id, day, preview) DO UPDATE SET
        conversations_inbound = conversations_inbound + excluded.conversations_inbound,
        conversations_outbound = conversations_outbound + excluded.conversations_outbound;
END;

CREATE TRIGGER sessions_usage AFTER INSERT ON sessions
BEGIN
    INSERT INTO usage_days (workspace_id, day, preview, widget_sessions, api_sessions)
    VALUES (NEW.workspace_id, NEW.created_at / 86400000, NEW.preview, NEW.kind = 'widget',
            NEW.kind = 'api')
    ON CONFLICT (workspace_id, day, preview) DO UPDATE SET
        widget_sessions = widget_sessions + excluded.widget_sessions,
        api_sessions = api_sessions + excluded.api_sessions;
END;

-- Counted on the day the call ended.
CREATE TRIGGER calls_usage AFTER UPDATE OF state ON calls
WHEN NEW.state = 'ended' AND OLD.state != 'ended' AND NEW.duration_ms > 0
BEGIN
    INSERT INTO usage_days (workspace_id, day, preview, voice_minutes, calls)
    SELECT NEW.workspace_id, COALESCE(NEW.ended_at, NEW.created_at) / 86400000, c.preview,
           (NEW.duration_ms + 59999) / 60000, 1
    FROM conversations c WHERE c.id = NEW.conversation_id
    ON CONFLICT (workspace_id, day, preview) DO UPDATE SET
        voice_minutes = voice_minutes + excluded.voice_minutes,
        calls = calls + excluded.calls;
END;

-- What happened before metering, counted the same way (earlier auto-replies count as the
-- bot's, earlier conversations as inbound: nothing recorded which they were).
INSERT INTO usage_days
    (workspace_id, day, preview, text_visitor, text_agent, text_bot)
SELECT c.workspace_id, m.created_at / 86400000, FALSE,
       SUM(m.author_kind = 'visitor'), SUM(m.author_kind = 'agent'), SUM(m.author_kind = 'bot')
FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE NOT EXISTS (SELECT 1 FROM calls k
                  WHERE k.id = m.client_msg_id AND k.conversation_id = m.conversation_id)
GROUP BY 1, 2
ON CONFLICT (workspace_id, day, preview) DO UPDATE SET
    text_visitor = text_visitor + excluded.text_visitor,
    text_agent = text_agent + excluded.text_agent,
    text_bot = text_bot + excluded.text_bot;
INSERT INTO usage_days (workspace_id, day, preview, conversations_inbound)
SELECT workspace_id, created_at / 86400000, FALSE, COUNT(*) FROM conversations WHERE true
GROUP BY 1, 2
ON CONFLICT (workspace_id, day, preview) DO UPDATE SET
    conversations_inbound = conversations_inbound + excluded.conversations_inbound;
INSERT INTO usage_days (workspace_id, day, preview, widget_sessions, api_sessions)
SELECT workspace_id, created_at / 86400000, FALSE, SUM(kind = 'widget'), SUM(kind = 'api')
FROM sessions WHERE true
GROUP BY 1, 2
ON CONFLICT (workspace_id, day, preview) DO UPDATE SET
    widget_sessions = widget_sessions + excluded.widget_sessions,
    api_sessions = api_sessions + excluded.api_sessions;
INSERT INTO usage_days (workspace_id, day, preview, voice_minutes, calls)
SELECT workspace_id, COALESCE(ended_at, created_at) / 86400000, FALSE,
       SUM((duration_ms + 59999) / 60000), COUNT(*)
FROM calls WHERE state = 'ended' AND duration_ms > 0
GROUP BY 1, 2
ON CONFLICT (workspace_id, day, preview) DO UPDATE SET
    voice_minutes = voice_minutes + excluded.voice_minutes,
    calls = calls + excluded.calls;

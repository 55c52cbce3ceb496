-- Usage metering, previews and quotas (issue 18, crate::usage): SQLite's 0010_usage.sql in
-- PostgreSQL's types. See there for the model.
--
-- Messages are counted by a statement-level trigger: a group commit's batch is one
-- multi-row INSERT, so its counts go in as one upsert per (workspace, day, preview), in key
-- order. Two nodes' batches then lock usage rows in the same order and can't deadlock, as
-- per-row upserts in batch order could.
--
-- A call's record message (written under the call's id as its `client_msg_id`) is not a text
-- message: the call counts as voice minutes.

ALTER TABLE messages ADD COLUMN auto_reply BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE conversations ADD COLUMN outbound BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE conversations ADD COLUMN preview BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE sessions ADD COLUMN preview BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX conversations_preview ON conversations(created_at) WHERE preview;
CREATE INDEX sessions_preview ON sessions(created_at) WHERE preview;

ALTER TABLE workspaces ADD COLUMN quota_mode TEXT NOT NULL DEFAULT 'off'
    CHECK (quota_mode IN ('off', 'soft', 'hard'));
ALTER TABLE workspaces ADD COLUMN quota_text_per_month BIGINT;
ALTER TABLE workspaces ADD COLUMN quota_voice_minutes_per_month BIGINT;

CREATE TABLE quota_warnings (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    month        TEXT NOT NULL,
    metric       TEXT NOT NULL CHECK (metric IN ('text', 'voice')),
    level        BIGINT NOT NULL CHECK (level IN (80, 100)),
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, month, metric, level)
);

CREATE TABLE usage_days (
    workspace_id           TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    day                    BIGINT NOT NULL,
    preview                BOOLEAN NOT NULL,
    text_visitor           BIGINT NOT NULL DEFAULT 0,
    text_agent             BIGINT NOT NULL DEFAULT 0,
    text_bot               BIGINT NOT NULL DEFAULT 0,
    text_auto_reply        BIGINT NOT NULL DEFAULT 0,
    voice_minutes          BIGINT NOT NULL DEFAULT 0,
    calls                  BIGINT NOT NULL DEFAULT 0,
    conversations_inbound  BIGINT NOT NULL DEFAULT 0,
    conversations_outbound BIGINT NOT NULL DEFAULT 0,
    widget_sessions        BIGINT NOT NULL DEFAULT 0,
    api_sessions           BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, day, preview)
);

CREATE FUNCTION messages_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO usage_days AS u
        (workspace_id, day, preview, text_visitor, text_agent, text_bot, text_auto_reply)
    SELECT c.workspace_id, n.created_at / 86400000, c.preview,
           COUNT(*) FILTER (WHERE n.author_kind = 'visitor'),
           COUNT(*) FILTER (WHERE n.author_kind = 'agent'),
           COUNT(*) FILTER (WHERE n.author_kind = 'bot' AND NOT n.auto_reply),
           COUNT(*) FILTER (WHERE n.auto_reply)
    FROM new_messages n JOIN conversations c ON c.id = n.conversation_id
    WHERE NOT EXISTS (SELECT 1 FROM calls k
                      WHERE k.id = n.client_msg_id AND k.conversation_id = n.conversation_id)
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (workspace_id, day, preview) DO UPDATE SET
        text_visitor = u.text_visitor + EXCLUDED.text_visitor,
        text_agent = u.text_agent + EXCLUDED.text_agent,
        text_bot = u.text_bot + EXCLUDED.text_bot,
        text_auto_reply = u.text_auto_reply + EXCLUDED.text_auto_reply;
    RETURN NULL;
END;
$$;
CREATE TRIGGER messages_usage AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION messages_usage();

CREATE FUNCTION conversations_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO usage_days AS u
        (workspace_id, day, preview, conversations_inbound, conversations_outbound)
    VALUES (NEW.workspace_id, NEW.created_at / 86400000, NEW.preview,
            (NOT NEW.outbound)::int, NEW.outbound::int)
    ON CONFLICT (workspace_id, day, preview) DO UPDATE SET
        conversations_inbound = u.conversations_inbound + EXCLUDED.conversations_inbound,
        conversations_outbound = u.conversations_outbound + EXCLUDED.conversations_outbound;
    RETURN NULL;
END;
$$;
CREATE TRIGGER conversations_usage AFTER INSERT ON conversations
    FOR EACH ROW EXECUTE FUNCTION conversations_usage();

CREATE FUNCTION sessions_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO usage_days AS u (workspace_id, day, preview, widget_sessions, api_sessions)
    VALUES (NEW.workspace_id, NEW.created_at / 86400000, NEW.preview,
            (NEW.kind = 'widget')::int, (NEW.kind = 'api')::int)
    ON CONFLICT (workspace_id, day, preview) DO UPDATE SET
        widget_sessions = u.widget_sessions + EXCLUDED.widget_sessions,
        api_sessions = u.api_sessions + EXCLUDED.api_sessions;
    RETURN NULL;
END;
$$;
CREATE TRIGGER sessions_usage AFTER INSERT ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_usage();

CREATE FUNCTION calls_usage() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO usage_days AS u (workspace_id, day, preview, voice_minutes, calls)
    SELECT NEW.workspace_id, COALESCE(NEW.ended_at, NEW.created_at) / 86400000, c.preview,
           (NEW.duration_ms + 59999) / 60000, 1
    FROM conversations c WHERE c.id = NEW.conversation_id
    ON CONFLICT (workspace_id, day, preview) DO UPDATE SET
        voice_minutes = u.voice_minutes + EXCLUDED.voice_minutes,
        calls = u.calls + EXCLUDED.calls;
    RETURN NULL;
END;
$$;
CREATE TRIGGER calls_usage AFTER UPDATE OF state ON calls
    FOR EACH ROW
    WHEN (NEW.state = 'ended' AND OLD.state <> 'ended' AND NEW.duration_ms > 0)
    EXECUTE FUNCTION calls_usage();

-- What happened before metering (see SQLite's migration).
INSERT INTO usage_days AS u (workspace_id, day, preview, text_visitor, text_agent, text_bot)
SELECT c.workspace_id, m.created_at / 86400000, FALSE,
       COUNT(*) FILTER (WHERE m.author_kind = 'visitor'),
       COUNT(*) FILTER (WHERE m.author_kind = 'agent'),
       COUNT(*) FILTER (WHERE m.author_kind = 'bot')
FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE NOT EXISTS (SELECT 1 FROM calls k
                  WHERE k.id = m.client_msg_id AND k.conversation_id = m.conversation_id)
GROUP BY 1, 2
ON CONFLICT (workspace_id, day, preview) DO UPDATE SET
    text_visitor = u.text_visitor + EXCLUDED.text_visitor,
    text_agent = u.text_agent + EXCLUDED.text_agent,
    text_bot = u.text_bot + EXCLUDED.text_bot;
INSERT INTO usage_days AS u (workspace_id, day, preview, conversations_inbound)
SELECT workspace_id, created_at / 86400000, FALSE, COUNT(*) FROM conversations GROUP BY 1, 2
ON CONFLICT (workspace_id, day, preview) DO UPDATE SET
    conversations_inbound = u.conversations_inbound + EXCLUDED.conversations_inbound;
INSERT INTO usage_days AS u (workspace_id, day, preview, widget_sessions, api_sessions)
SELECT workspace_id, created_at / 86400000, FALSE,
       COUNT(*) FILTER (WHERE kind = 'widget'), COUNT(*) FILTER (WHERE kind = 'api')
FROM sessions GROUP BY 1, 2
ON CONFLICT (workspace_id, day, preview) DO UPDATE SET
    widget_sessions = u.widget_sessions + EXCLUDED.widget_sessions,
    api_sessions = u.api_sessions + EXCLUDED.api_sessions;
INSERT INTO usage_days AS u (workspace_id, day, preview, voice_minutes, calls)
SELECT workspace_id, COALESCE(ended_at, created_at) / 86400000, FALSE,
       SUM((duration_ms + 59999) / 60000), COUNT(*)
FROM calls WHERE state = 'ended' AND duration_ms > 0
GROUP BY 1, 2
ON CONFLICT (workspace_id, day, preview) DO UPDATE SET
    voice_minutes = u.voice_minutes + EXCLUDED.voice_minutes,
    calls = u.calls + EXCLUDED.calls;

-- Agent bots (talk_protocol::bots, crate::bots): SQLite's 0008_bots.sql in PostgreSQL's types.

CREATE TABLE bots (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    photo_url      TEXT,
    webhook_url    TEXT NOT NULL,
    takes          TEXT NOT NULL CHECK (takes IN ('all_new', 'outside_office_hours')),
    enabled        BOOLEAN NOT NULL DEFAULT TRUE,
    -- The HMAC key of the webhooks' signatures, kept as is: signing needs it.
    signing_secret TEXT NOT NULL,
    api_key_id     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX bots_workspace ON bots(workspace_id, created_at);

-- Set on a bot's key. Not a foreign key: a deleted bot's key stays a bot's key (revoked).
ALTER TABLE api_keys ADD COLUMN bot_id TEXT;

-- The bot holding the conversation: set when it starts, NULL once the bot hands over.
ALTER TABLE conversations ADD COLUMN bot_id TEXT REFERENCES bots(id) ON DELETE SET NULL;
CREATE INDEX conversations_bot ON conversations(bot_id) WHERE bot_id IS NOT NULL;

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    bot_id          TEXT NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    message_id      TEXT NOT NULL,
    message_seq     BIGINT NOT NULL,
    event_type      TEXT NOT NULL DEFAULT 'message.created',
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- Set while a node delivers it; the value also tells that attempt from a later one.
    leased_until    BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order ON webhook_deliveries(conversation_id, message_seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries(bot_id, created_at);
CREATE INDEX webhook_deliveries_done ON webhook_deliveries(created_at)
    WHERE status != 'pending';

-- A visitor's message in a conversation an enabled bot holds is queued for the bot in the
-- message's own transaction (a batch's multi-row insert fires it once per row).
CREATE FUNCTION messages_to_bots() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries
        (id, workspace_id, bot_id, conversation_id, message_id, message_seq, next_attempt_at,
         created_at)
    SELECT replace(gen_random_uuid()::text, '-', ''), c.workspace_id, c.bot_id, c.id, NEW.id,
           NEW.seq, NEW.created_at, NEW.created_at
    FROM conversations c JOIN bots b ON b.id = c.bot_id
    WHERE c.id = NEW.conversation_id AND b.enabled;
    RETURN NULL;
END;
$$;

CREATE TRIGGER messages_to_bots AFTER INSERT ON messages
    FOR EACH ROW WHEN (NEW.author_kind = 'visitor') EXECUTE FUNCTION messages_to_bots();

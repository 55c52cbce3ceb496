-- Agent bots (talk_protocol::bots, crate::bots): a program the workspace plugs in by webhook,
-- the conversations it holds, and the deliveries of their visitors' messages to it.

CREATE TABLE bots (
    id             TEXT PRIMARY KEY NOT NULL,
    workspace_id   TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    photo_url      TEXT,
    webhook_url    TEXT NOT NULL,
    takes          TEXT NOT NULL CHECK (takes IN ('all_new', 'outside_office_hours')),
    enabled        BOOLEAN NOT NULL DEFAULT TRUE,
    -- The HMAC key of the webhooks' signatures, kept as is: signing needs it.
    signing_secret TEXT NOT NULL,
    -- Its bot-scoped API key (api_keys.bot_id names the bot back).
    api_key_id     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX bots_workspace ON bots(workspace_id, created_at);

-- Set on a bot's key: such a key acts only on the conversations its bot holds. Not a foreign
-- key: a deleted bot's key stays a bot's key (revoked), never becoming a workspace key.
ALTER TABLE api_keys ADD COLUMN bot_id TEXT;

-- The bot holding the conversation: set when it starts, NULL once the bot hands over.
ALTER TABLE conversations ADD COLUMN bot_id TEXT REFERENCES bots(id) ON DELETE SET NULL;
CREATE INDEX conversations_bot ON conversations(bot_id) WHERE bot_id IS NOT NULL;

-- One row per event for a bot: the delivery log, and the queue of what is still to deliver.
-- The event is built at delivery time from the rows it names.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY NOT NULL,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    bot_id          TEXT NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    message_id      TEXT NOT NULL,
    message_seq     INTEGER NOT NULL,
    event_type      TEXT NOT NULL DEFAULT 'message.created',
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- Set while a node delivers it; the value also tells that attempt from a later one.
    leased_until    INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order ON webhook_deliveries(conversation_id, message_seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries(bot_id, created_at);
CREATE INDEX webhook_deliveries_done ON webhook_deliveries(created_at)
    WHERE status != 'pending';

-- A visitor's message in a conversation an enabled bot holds is queued for the bot in the
-- message's own transaction (the group commit's, or the new conversation's): committed
-- together, so no crash or restart between them can lose one.
CREATE TRIGGER messages_to_bots AFTER INSERT ON messages
WHEN NEW.author_kind = 'visitor'
BEGIN
    INSERT INTO webhook_deliveries
        (id, workspace_id, bot_id, conversation_id, message_id, message_seq, next_attempt_at,
         created_at)
    SELECT lower(hex(randomblob(16))), c.workspace_id, c.bot_id, c.id, NEW.id, NEW.seq,
           NEW.created_at, NEW.created_at
    FROM conversations c JOIN bots b ON b.id = c.bot_id
    WHERE c.id = NEW.conversation_id AND b.enabled;
END;

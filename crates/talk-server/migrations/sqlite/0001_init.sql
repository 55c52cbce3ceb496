-- Ids are 24 lowercase hex chars; times are Unix milliseconds.

CREATE TABLE workspaces (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    capture_key     TEXT NOT NULL UNIQUE,
    names_required  BOOLEAN NOT NULL DEFAULT FALSE,
    -- JSON array of origins; empty means every origin may start a widget session.
    allowed_origins TEXT NOT NULL DEFAULT '[]',
    created_at      INTEGER NOT NULL
);

-- Tokens name their key (JWT `kid`), so secrets can rotate without invalidating old tokens.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    secret       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    retired_at   INTEGER
);
CREATE INDEX signing_keys_workspace ON signing_keys(workspace_id);

-- Only the SHA-256 of a key is stored; the key is shown once at creation.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    key_hash     TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);

CREATE TABLE agents (
    id            TEXT PRIMARY KEY NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
    created_at    INTEGER NOT NULL,
    UNIQUE (workspace_id, email)
);

CREATE TABLE people (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    -- Trimmed, lowercased str::email: what people are matched by.
    email_norm   TEXT NOT NULL,
    -- JSON object keyed by Ortto field names ("str::email", "str::first", …).
    fields       TEXT NOT NULL DEFAULT '{}',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (workspace_id, email_norm)
);

CREATE TABLE visitors (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    person_id    TEXT REFERENCES people(id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    visitor_id   TEXT,
    person_id    TEXT REFERENCES people(id) ON DELETE SET NULL,
    verified     BOOLEAN NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('api', 'widget')),
    created_at   INTEGER NOT NULL
);

CREATE TABLE conversations (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    visitor_id   TEXT NOT NULL,
    person_id    TEXT REFERENCES people(id) ON DELETE SET NULL,
    session_id   TEXT NOT NULL REFERENCES sessions(id),
    verified     BOOLEAN NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    last_seq     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX conversations_visitor ON conversations(workspace_id, visitor_id);
CREATE INDEX conversations_person ON conversations(workspace_id, person_id);
CREATE INDEX conversations_recent ON conversations(workspace_id, created_at);

CREATE TABLE messages (
    id            TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    author_kind   TEXT NOT NULL CHECK (author_kind IN ('visitor', 'agent', 'bot')),
    author_name   TEXT,
    body          TEXT NOT NULL,
    client_msg_id TEXT,
    created_at    INTEGER NOT NULL,
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, client_msg_id)
);

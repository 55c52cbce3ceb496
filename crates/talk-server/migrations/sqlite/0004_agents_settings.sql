-- Agents' presence and photo, their sign-in sessions, widget settings and API key prefixes.

-- Away until the agent says otherwise: nobody is shown online who never signed in.
ALTER TABLE agents ADD COLUMN presence TEXT NOT NULL DEFAULT 'away'
    CHECK (presence IN ('online', 'away'));
ALTER TABLE agents ADD COLUMN photo_url TEXT;

-- Only the SHA-256 of the cookie's random session id is stored. Sliding expiry.
CREATE TABLE agent_sessions (
    id_hash    TEXT PRIMARY KEY NOT NULL,
    agent_id   TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX agent_sessions_agent ON agent_sessions(agent_id);

-- JSON of talk_protocol::WidgetSettings; NULL means the defaults. Its names_required is
-- ignored on reading: the names_required column (which the widget session reads) wins.
ALTER TABLE workspaces ADD COLUMN widget_settings TEXT;

-- First 8 characters of the key's secret part, to tell keys apart in a list.
ALTER TABLE api_keys ADD COLUMN prefix TEXT;

-- People (CDP): activity metadata, and page views for agents' browsing history.

-- The IP the site's backend reported in `location.source_ip` of POST /v1/talk/session.
ALTER TABLE people ADD COLUMN last_seen_ip TEXT;
ALTER TABLE people ADD COLUMN last_seen_at INTEGER;

-- A page view belongs to its visitor; it reaches a person through the visitor's link (and
-- verified sessions), so identifying later needs no copying. `person_id` records who the
-- visitor was known as when the page was viewed.
CREATE TABLE page_views (
    id           INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    visitor_id   TEXT NOT NULL,
    person_id    TEXT REFERENCES people(id) ON DELETE SET NULL,
    url          TEXT NOT NULL,
    title        TEXT,
    referrer     TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX page_views_visitor ON page_views(workspace_id, visitor_id, created_at);
CREATE INDEX page_views_person ON page_views(workspace_id, person_id);

-- Which visitors had a verified session for a person.
CREATE INDEX sessions_person ON sessions(workspace_id, person_id, verified);

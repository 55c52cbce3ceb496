-- Conversations agents start (crate::outbound): each visitor's newest widget session is found
-- by index rather than by scanning the workspace's sessions (visitors_person exists already).
CREATE INDEX IF NOT EXISTS sessions_visitor ON sessions(workspace_id, visitor_id, created_at);

-- Conversations agents start (crate::outbound): who a person was most recently seen as. The
-- visitors linked to a person (by a typed email or a verified session), and each visitor's
-- newest widget session, are found by index rather than by scanning the workspace.
CREATE INDEX IF NOT EXISTS visitors_person ON visitors(workspace_id, person_id);
CREATE INDEX IF NOT EXISTS sessions_visitor ON sessions(workspace_id, visitor_id, created_at);

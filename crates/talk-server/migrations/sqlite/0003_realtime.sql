-- Conversation state for the inbox and the widget: who handles it and how far each side read.
ALTER TABLE conversations ADD COLUMN assignee_id TEXT REFERENCES agents(id) ON DELETE SET NULL;
-- Both only ever grow (MAX on update), so a late or replayed receipt can't unread anything.
ALTER TABLE conversations ADD COLUMN visitor_read_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN agent_read_seq INTEGER NOT NULL DEFAULT 0;

-- What a visitor typed in the widget's email form. Kept on the visitor, not the person: a
-- typed email proves nothing, so typed names never become the person's fields, and the
-- person's stored names are never shown back to whoever typed the email.
ALTER TABLE visitors ADD COLUMN claimed_email TEXT;
ALTER TABLE visitors ADD COLUMN claimed_first_name TEXT;
ALTER TABLE visitors ADD COLUMN claimed_last_name TEXT;

-- Visitors linked before this migration were mostly linked by a typed email: they keep that
-- email (not the person's names), so a returning visitor isn't asked for it again.
UPDATE visitors
SET claimed_email = (SELECT json_extract(p.fields, '$."str::email"') FROM people p
                     WHERE p.id = visitors.person_id)
WHERE person_id IS NOT NULL;

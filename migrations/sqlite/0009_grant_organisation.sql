-- The organisation a person chose (or was given, having only one) for a grant with the
-- `organisation` scope: ID tokens and /userinfo describe it and the person's roles there.
ALTER TABLE grants ADD COLUMN organisation_id TEXT;

-- Retention: an event older than its category's limit is blanked in place ("pruned"): its
-- position, id, time, action, outcome and both hashes stay, so the chain still links from
-- event to event; who, where and the details go. A checkpoint event (`audit.pruned`) records
-- each pruning, and verification accepts a blank event only where a checkpoint covers it.
ALTER TABLE audit_events ADD COLUMN pruned_at BIGINT;

-- Still append-only, except for that one change, made once.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND OLD.pruned_at IS NULL AND NEW.pruned_at IS NOT NULL
        AND NEW.seq = OLD.seq AND NEW.id = OLD.id AND NEW.occurred_at = OLD.occurred_at
        AND NEW.action = OLD.action AND NEW.outcome = OLD.outcome
        AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash
        AND NEW.actor = 'pruned' AND NEW.subject_user_id IS NULL
        AND NEW.organisation_id IS NULL AND NEW.client_id IS NULL AND NEW.reason IS NULL
        AND NEW.ip IS NULL AND NEW.user_agent IS NULL AND NEW.request_id IS NULL
        AND NEW.details IS NULL
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;

CREATE INDEX audit_events_retention ON audit_events (action, occurred_at) WHERE pruned_at IS NULL;

-- The application role. Run migrations (and `gatehouse audit prune`) as the database's
-- owner, and the server as `gatehouse_app`: it may read and write every table, but only
-- read and append to the audit trail, so even a compromised server cannot rewrite history.
--
--     CREATE ROLE gatehouse_app LOGIN PASSWORD '…';
--     -- then run `gatehouse migrate` as the owner; this migration grants the rest.
--
-- Where the role exists, this grants it exactly that (and the same on tables later
-- migrations create in this schema).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'gatehouse_app') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO gatehouse_app', current_schema());
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO gatehouse_app', current_schema());
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO gatehouse_app', current_schema());
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM gatehouse_app;
    END IF;
END
$$;

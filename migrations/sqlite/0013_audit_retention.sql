-- Retention: an event older than its category's limit is blanked in place ("pruned"): its
-- position, id, time, action, outcome and both hashes stay, so the chain still links from
-- event to event; who, where and the details go. A checkpoint event (`audit.pruned`) records
-- each pruning, and verification accepts a blank event only where a checkpoint covers it.
ALTER TABLE audit_events ADD COLUMN pruned_at BIGINT;

-- Still append-only, except for that one change, made once.
DROP TRIGGER audit_events_no_update;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN NOT (
    OLD.pruned_at IS NULL AND NEW.pruned_at IS NOT NULL
    AND NEW.seq = OLD.seq AND NEW.id = OLD.id AND NEW.occurred_at = OLD.occurred_at
    AND NEW.action = OLD.action AND NEW.outcome = OLD.outcome
    AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash
    AND NEW.actor = 'pruned' AND NEW.subject_user_id IS NULL AND NEW.organisation_id IS NULL
    AND NEW.client_id IS NULL AND NEW.reason IS NULL AND NEW.ip IS NULL
    AND NEW.user_agent IS NULL AND NEW.request_id IS NULL AND NEW.details IS NULL
)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE INDEX audit_events_retention ON audit_events (action, occurred_at) WHERE pruned_at IS NULL;

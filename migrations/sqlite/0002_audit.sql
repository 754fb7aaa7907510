-- The audit trail: append-only, tamper-evident.
--
-- Each event's `hash` is SHA-256 over its own fields and the previous event's hash, so
-- changing or removing any row breaks every hash after it (`gatehouse audit verify`).
-- `seq` is the event's place in that chain: 1, 2, 3… with no gaps.
-- There is no foreign key to `users`: the trail must outlive what it describes.
CREATE TABLE audit_events (
    seq             BIGINT  PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    occurred_at     BIGINT  NOT NULL,
    -- Who did it: a user id, or 'cli' / 'system' for work no person signed in for.
    actor           TEXT    NOT NULL,
    subject_user_id TEXT,
    organisation_id TEXT,
    client_id       TEXT,
    -- A gatehouse::audit::Action, never free text.
    action          TEXT    NOT NULL,
    outcome         TEXT    NOT NULL CHECK (outcome IN ('success', 'failure')),
    -- Why, as a short code (for a failed sign-in: unknown_user, wrong_password, locked…).
    reason          TEXT,
    ip              TEXT,
    user_agent      TEXT,
    request_id      TEXT,
    -- JSON details, e.g. {"before": …, "after": …}; never passwords, codes, tokens or secrets.
    details         TEXT,
    prev_hash       TEXT    NOT NULL,
    hash            TEXT    NOT NULL
);

CREATE INDEX audit_events_subject ON audit_events (subject_user_id, seq);
CREATE INDEX audit_events_actor ON audit_events (actor, seq);

-- The head of the chain: one row, locked by every append so that events are chained in
-- commit order even with several writers.
CREATE TABLE audit_head (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    seq       BIGINT  NOT NULL,
    hash      TEXT    NOT NULL
);
INSERT INTO audit_head (singleton, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only: the application never updates or deletes an event.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

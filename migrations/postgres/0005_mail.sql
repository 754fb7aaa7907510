-- Email waiting to be sent, and single-use links and codes sent by email.
-- Every `*_at` column is Unix time in milliseconds (UTC), written from the injected clock.

-- The outbox: each message is written in the same transaction as the change that causes it,
-- then sent by a background worker on any node. `id` is also the message's idempotency key
-- (its Message-ID), so a receiver can tell a retry from a new message.
CREATE TABLE outbox (
    id              TEXT    PRIMARY KEY,
    -- Which template: invitation, password_reset, password_changed, ...
    kind            TEXT    NOT NULL,
    -- Whom it is about (NULL for operator test messages).
    user_id         TEXT,
    -- Recipient and template values (including any link), sealed with the data key
    -- (AES-256-GCM), so a copy of the database reveals no link. Cleared once sent.
    payload         TEXT,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    -- When the next attempt is due; a node claims a message by moving this forward.
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    sent_at         BIGINT
);

CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- Links and codes that prove control of an email address. Only SHA-256 hashes are stored.
-- A person has at most one of each purpose: a newer one replaces the older.
CREATE TABLE account_tokens (
    id          TEXT    PRIMARY KEY,
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT    NOT NULL CHECK (purpose IN ('activation', 'reset', 'email_change')),
    -- Hash of the emailed secret; NULL once the link has been opened and swapped for a handle.
    token_hash  TEXT    UNIQUE,
    -- Hash of the browser-held handle that replaced the link's token on first opening.
    handle_hash TEXT    UNIQUE,
    -- Email change: the address to move to.
    new_email   TEXT,
    -- Invitation: the service that invited the person and where to send them afterwards.
    client_id   TEXT,
    return_to   TEXT,
    -- Wrong codes entered so far (email change allows 5).
    attempts    BIGINT  NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);

CREATE UNIQUE INDEX account_tokens_user_purpose ON account_tokens (user_id, purpose);
CREATE INDEX account_tokens_expires ON account_tokens (expires_at);

-- Request throttles other than sign-in (password reset per address and per network) share
-- the token-bucket table; their keys carry a prefix, so they never meet a sign-in bucket.

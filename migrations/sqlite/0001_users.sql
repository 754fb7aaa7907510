-- People who sign in.
--
-- `id` is the OIDC `sub`: random, opaque, never reused, and it survives a change of email.
-- Email uniqueness ignores case, so it lives on `email_normalised` (lower-cased in Rust);
-- `email` keeps the address as the person typed it, for display and mail.
-- Every `*_at` column is Unix time in milliseconds (UTC), written from the injected clock.
CREATE TABLE users (
    id                  TEXT    PRIMARY KEY,
    email               TEXT    NOT NULL,
    email_normalised    TEXT    NOT NULL UNIQUE,
    given_name          TEXT    NOT NULL,
    family_name         TEXT    NOT NULL,
    job_title           TEXT,
    status              TEXT    NOT NULL
        CHECK (status IN ('invited', 'active', 'locked', 'deactivated')),
    -- Argon2id PHC string; NULL until the person sets a password from their invitation.
    password_hash       TEXT,
    -- Why the account was locked or deactivated, in the words of whoever did it.
    status_reason       TEXT,
    -- Consecutive failed sign-ins since the last success; 100 locks the account.
    failed_sign_ins     BIGINT  NOT NULL DEFAULT 0,
    last_failed_sign_in_at BIGINT,
    created_at          BIGINT  NOT NULL,
    updated_at          BIGINT  NOT NULL,
    activated_at        BIGINT,
    last_sign_in_at     BIGINT,
    password_changed_at BIGINT
);

-- The helpdesk looks people up by name as well as by email.
CREATE INDEX users_family_given ON users (family_name, given_name);

-- Second factors: authenticator apps (TOTP), WebAuthn security keys and passkeys, recovery
-- codes, and the half-finished sign-ins that wait for one of them.
--
-- Nothing here can be replayed from a copy of the database: TOTP secrets are sealed with the
-- data key (keys/data.key), recovery codes and handles are stored as SHA-256 hashes, and
-- WebAuthn keeps only public keys.

-- The highest 30-second TOTP step a person has used: a step is accepted once per person,
-- decided by one conditional UPDATE (steps only move forward).
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

CREATE TABLE totp_factors (
    id              TEXT    PRIMARY KEY,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    -- AES-256-GCM sealed base32 secret ("v1." prefix), bound to this row's id.
    secret_sealed   TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    -- NULL while set-up waits for the first code; only confirmed factors count.
    confirmed_at    BIGINT,
    last_used_at    BIGINT,
    -- Consecutive wrong codes; at 100 the factor is disabled until recovery.
    failures        BIGINT  NOT NULL DEFAULT 0,
    last_failure_at BIGINT,
    disabled_at     BIGINT
);
CREATE INDEX totp_factors_user ON totp_factors (user_id);

CREATE TABLE webauthn_credentials (
    id              TEXT    PRIMARY KEY,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- base64url credential id; one account per credential, everywhere.
    credential_id   TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL CHECK (kind IN ('security_key', 'passkey')),
    name            TEXT    NOT NULL,
    -- webauthn-rs credential (public key, counter, flags) as JSON.
    credential      TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    last_used_at    BIGINT,
    -- Set when an assertion's signature counter went backwards (a possible clone).
    counter_regressed_at BIGINT
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

-- Server-side WebAuthn ceremony state: single use (DELETE … RETURNING), two-minute lifetime.
CREATE TABLE webauthn_challenges (
    id_hash         TEXT    PRIMARY KEY,
    user_id         TEXT    REFERENCES users (id) ON DELETE CASCADE,
    purpose         TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL
);
CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires_at);
CREATE INDEX webauthn_challenges_user ON webauthn_challenges (user_id, purpose);

CREATE TABLE recovery_codes (
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash       TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    used_at         BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- A sign-in that has passed its first step and waits for a second factor. It is not a
-- session: no page, code or token can be reached with it.
CREATE TABLE pending_sign_ins (
    id_hash         TEXT    PRIMARY KEY,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Step-up: the session that will be upgraded. NULL after a password.
    session_hash    TEXT,
    -- What was proved so far (JSON array, RFC 8176).
    amr             TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL
);
CREATE INDEX pending_sign_ins_expires ON pending_sign_ins (expires_at);

-- The OpenID Connect provider: services (clients), pending authorization requests,
-- consents, grants with their codes and refresh tokens, revoked access tokens and the
-- back-channel logout queue.
--
-- Every secret a browser or service holds (client secrets, request ids, codes, refresh
-- tokens) is stored only as its SHA-256: they are 256-bit random values, so a fast hash is
-- enough and a copy of these tables cannot be replayed. Lists (redirect URIs, scopes, grant
-- types) are JSON arrays of strings, validated in Rust before they are written.

CREATE TABLE clients (
    id                          TEXT    PRIMARY KEY,            -- the OAuth client_id
    name                        TEXT    NOT NULL,
    kind                        TEXT    NOT NULL CHECK (kind IN ('confidential', 'public')),
    auth_method                 TEXT    NOT NULL CHECK (auth_method IN
        ('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none')),
    grant_types                 TEXT    NOT NULL,
    redirect_uris               TEXT    NOT NULL,
    post_logout_redirect_uris   TEXT    NOT NULL,
    scopes                      TEXT    NOT NULL,
    backchannel_logout_uri      TEXT,
    -- The service's public keys for private_key_jwt, as a JWKS document.
    jwks                        TEXT,
    first_party                 BOOLEAN NOT NULL,               -- skips the consent page
    mfa_required                BOOLEAN NOT NULL,
    -- Issue a refresh token even without offline_access (the session still bounds it).
    refresh_tokens              BOOLEAN NOT NULL,
    id_token_alg                TEXT    NOT NULL,
    access_token_alg            TEXT    NOT NULL,
    access_token_seconds        BIGINT  NOT NULL,
    id_token_seconds            BIGINT  NOT NULL,
    refresh_token_seconds       BIGINT  NOT NULL,
    created_at                  BIGINT  NOT NULL,
    updated_at                  BIGINT  NOT NULL
);

-- Up to two secrets are live while a service rotates: the new one and, until it expires,
-- the old one.
CREATE TABLE client_secrets (
    secret_hash     TEXT    PRIMARY KEY,
    client_id       TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT
);
CREATE INDEX client_secrets_client ON client_secrets (client_id);

-- An /authorize request waiting for the person to sign in or consent. The browser holds
-- only a random id; the validated request lives here for a few minutes.
CREATE TABLE authorization_requests (
    id_hash         TEXT    PRIMARY KEY,
    client_id       TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    request         TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL
);
CREATE INDEX authorization_requests_expires ON authorization_requests (expires_at);

-- What a person has allowed a service to know, remembered until they withdraw it.
CREATE TABLE consents (
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id       TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes          TEXT    NOT NULL,
    granted_at      BIGINT  NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- One authorization of a service by a person in one browser session: its code, and the
-- family of tokens issued from it. Revoking the grant revokes every token of the family.
CREATE TABLE grants (
    id              TEXT    PRIMARY KEY,
    client_id       TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The session it came from (sessions rows are deleted when they end, so no foreign key)
    -- and that session's public id, the `sid` claim.
    session_hash    TEXT    NOT NULL,
    sid             TEXT    NOT NULL,
    scopes          TEXT    NOT NULL,
    -- offline_access: outlives the session that created it.
    offline         BOOLEAN NOT NULL,
    auth_time       BIGINT  NOT NULL,
    amr             TEXT    NOT NULL,
    acr             TEXT,
    created_at      BIGINT  NOT NULL,
    -- The refresh tokens' absolute lifetime.
    expires_at      BIGINT  NOT NULL,
    revoked_at      BIGINT,
    revoked_reason  TEXT
);
CREATE INDEX grants_session ON grants (session_hash);
CREATE INDEX grants_user_client ON grants (user_id, client_id);

-- Authorization codes: single use, 60 seconds, bound to the grant's client, the redirect
-- URI and the PKCE challenge (RFC 7636 §4.4).
CREATE TABLE authorization_codes (
    code_hash       TEXT    PRIMARY KEY,
    grant_id        TEXT    NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id       TEXT    NOT NULL,
    redirect_uri    TEXT    NOT NULL,
    code_challenge  TEXT    NOT NULL,
    nonce           TEXT,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    consumed_at     BIGINT
);
CREATE INDEX authorization_codes_expires ON authorization_codes (expires_at);

-- Refresh tokens, rotated on every use. A used one presented again revokes its grant.
CREATE TABLE refresh_tokens (
    token_hash      TEXT    PRIMARY KEY,
    grant_id        TEXT    NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    used_at         BIGINT
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

-- Access tokens revoked one by one (RFC 7009), kept until they would have expired anyway.
CREATE TABLE revoked_access_tokens (
    jti             TEXT    PRIMARY KEY,
    expires_at      BIGINT  NOT NULL
);

-- Client assertions (private_key_jwt) already used, kept until they expire, so a captured
-- assertion cannot be replayed (RFC 7523 §3 item 7).
CREATE TABLE used_client_assertions (
    client_id       TEXT    NOT NULL,
    jti             TEXT    NOT NULL,
    expires_at      BIGINT  NOT NULL,
    PRIMARY KEY (client_id, jti)
);

-- Back-channel logout notices waiting to be delivered (Back-Channel Logout 1.0 §2.5).
-- The logout token is signed when it is sent, so a service that was down gets a fresh one.
CREATE TABLE logout_notices (
    id              TEXT    PRIMARY KEY,
    client_id       TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id         TEXT    NOT NULL,
    sid             TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    delivered_at    BIGINT,
    failed_at       BIGINT,
    last_error      TEXT,
    UNIQUE (client_id, sid)
);
CREATE INDEX logout_notices_due ON logout_notices (next_attempt_at);

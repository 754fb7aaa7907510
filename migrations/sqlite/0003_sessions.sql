-- Signed-in browser sessions.
--
-- The cookie holds a 256-bit random id; only its SHA-256 is stored, so a copy of this table
-- cannot be replayed as a cookie. A session ends when it is idle too long, reaches its absolute
-- lifetime, or is ended (sign-out, password change, helpdesk); ended rows are deleted.
CREATE TABLE sessions (
    id_hash         TEXT    PRIMARY KEY,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      BIGINT  NOT NULL,
    last_seen_at    BIGINT  NOT NULL,
    -- created_at + the absolute lifetime; the idle limit is checked against last_seen_at.
    expires_at      BIGINT  NOT NULL,
    -- When the person last proved who they are (OIDC auth_time), and how (amr, JSON array).
    auth_time       BIGINT  NOT NULL,
    amr             TEXT    NOT NULL,
    ip              TEXT,
    user_agent      TEXT
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Per-IP token buckets for sign-in attempts, shared by every node through the database.
CREATE TABLE ip_buckets (
    ip          TEXT    PRIMARY KEY,
    tokens      DOUBLE PRECISION NOT NULL,
    updated_at  BIGINT  NOT NULL
);

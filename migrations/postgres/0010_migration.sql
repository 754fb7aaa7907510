-- People brought over from Authentix, and where their invitation waves have got to. Nothing
-- from the legacy shared password is kept: the export has none, and no column here could hold
-- one.
CREATE TABLE migration_contacts (
    user_id      TEXT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    source       TEXT    NOT NULL,
    imported_at  BIGINT  NOT NULL,
    invited_at   BIGINT,
    reminded_at  BIGINT
);
CREATE INDEX migration_contacts_invited ON migration_contacts (invited_at);

-- The helpdesk finds accounts by the start of an email address or a name among a million.
--
-- Prefix searches are range scans compared byte by byte (COLLATE "C"), whatever the
-- database's own collation, so the same query finds the same people as on SQLite and uses
-- these indexes; names are matched on `lower(…)` of each part.
CREATE INDEX users_email_prefix ON users ((email_normalised COLLATE "C"));
CREATE INDEX users_family_search ON users ((lower(family_name) COLLATE "C"));
CREATE INDEX users_given_search ON users ((lower(given_name) COLLATE "C"));

-- Sign-ins and failures shown on the account page come from the trail, newest first.
CREATE INDEX audit_events_subject_action ON audit_events (subject_user_id, action, seq);

-- Organisations by the start of their (lower-cased) name.
CREATE INDEX organisations_name_prefix ON organisations ((name_normalised COLLATE "C"));

-- "Locked accounts, by name" without reading every account.
CREATE INDEX users_status_name ON users (status, family_name, given_name);

-- People whose second factors the helpdesk reset: they must set one up again when they next
-- sign in. The row goes when they add a factor.
CREATE TABLE mfa_setup_required (
    user_id     TEXT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    since       BIGINT  NOT NULL
);

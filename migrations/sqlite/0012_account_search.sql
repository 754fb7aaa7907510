-- The helpdesk finds accounts by the start of an email address or a name among a million.
--
-- Email prefixes use the unique index on `email_normalised` (already lower-cased, compared
-- byte by byte). Names are matched on `lower(…)` of each part, so each part gets an index on
-- that expression; a search is a range scan from the typed prefix, never a full scan.
CREATE INDEX users_family_search ON users (lower(family_name));
CREATE INDEX users_given_search ON users (lower(given_name));

-- Sign-ins and failures shown on the account page come from the trail, newest first.
CREATE INDEX audit_events_subject_action ON audit_events (subject_user_id, action, seq);

-- "Locked accounts, by name" without reading every account.
CREATE INDEX users_status_name ON users (status, family_name, given_name);

-- People whose second factors the helpdesk reset: they must set one up again when they next
-- sign in. The row goes when they add a factor.
CREATE TABLE mfa_setup_required (
    user_id     TEXT    PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    since       BIGINT  NOT NULL
);

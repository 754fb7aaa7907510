-- The Authentix migration dashboard, as last counted (decision 0021). Counting reads every
-- imported contact, which at national scale takes tens of seconds, so one node counts in the
-- background and the page reads these lines.
CREATE TABLE migration_dashboard_lines (
    section        TEXT    NOT NULL CHECK (section IN ('local_authority', 'service')),
    code           TEXT    NOT NULL,   -- the LA code, or the service's client id
    name           TEXT    NOT NULL,
    imported       BIGINT  NOT NULL,
    invited        BIGINT  NOT NULL,
    activated      BIGINT  NOT NULL,
    with_mfa       BIGINT  NOT NULL,
    organisations  BIGINT  NOT NULL,
    ready          BIGINT  NOT NULL,
    -- Invited and not yet activated, by UTC day of invitation: a JSON list of [day, count],
    -- so the page can count "not activated after N days" for any N.
    waiting        TEXT    NOT NULL,
    PRIMARY KEY (section, code)
);

-- One row: when the lines were counted, how long it took, and which count is under way.
CREATE TABLE migration_dashboard_counts (
    id           INTEGER  PRIMARY KEY CHECK (id = 1),
    counted_at   BIGINT,
    took_ms      BIGINT,
    lease_until  BIGINT   NOT NULL
);
INSERT INTO migration_dashboard_counts (id, counted_at, took_ms, lease_until) VALUES (1, NULL, NULL, 0);

-- Requests to join an organisation, or to use a service there, with the requester's reason.
--
-- A pending request is shown to the organisation's approvers (and emailed to them). It is
-- escalated to the helpdesk queue when it waits too long (`overdue`) or straight away when
-- the organisation has no active approver (`no_approver`). A decision records who made it,
-- when and why; `client_id` is NULL for a request to join the organisation only.
CREATE TABLE access_requests (
    id               TEXT    PRIMARY KEY,
    user_id          TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organisation_id  TEXT    NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    client_id        TEXT    REFERENCES clients (id) ON DELETE CASCADE,
    reason           TEXT    NOT NULL,
    status           TEXT    NOT NULL
        CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn')),
    created_at       BIGINT  NOT NULL,
    escalated_at     BIGINT,
    escalation       TEXT    CHECK (escalation IN ('overdue', 'no_approver')),
    decided_at       BIGINT,
    decided_by       TEXT    REFERENCES users (id) ON DELETE SET NULL,
    decision_reason  TEXT
);
-- One open request per person, organisation and service.
CREATE UNIQUE INDEX access_requests_open
    ON access_requests (user_id, organisation_id, COALESCE(client_id, ''))
    WHERE status = 'pending';
CREATE INDEX access_requests_organisation ON access_requests (organisation_id, status);
CREATE INDEX access_requests_queue ON access_requests (status, escalated_at, created_at);

-- Gatehouse's own staff. Capabilities are typed in the code; a role here only names them.
CREATE TABLE staff_roles (
    user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT    NOT NULL CHECK (role IN ('helpdesk', 'admin', 'auditor')),
    granted_at  BIGINT  NOT NULL,
    PRIMARY KEY (user_id, role)
);

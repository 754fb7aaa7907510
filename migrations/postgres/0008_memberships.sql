-- Who acts for which organisation, and what they may do there in each service.
--
-- A membership makes someone a `member` or an `approver` of an organisation. Each service
-- (OAuth client) defines its roles; access is granted per person × organisation × service,
-- with any of that service's roles. Removing a membership removes its access (cascade), and
-- a service may restrict which kinds of organisation it can be granted for.
CREATE TABLE memberships (
    user_id          TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organisation_id  TEXT    NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    level            TEXT    NOT NULL CHECK (level IN ('member', 'approver')),
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'approved')),
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    PRIMARY KEY (user_id, organisation_id)
);
CREATE INDEX memberships_organisation ON memberships (organisation_id, level);

CREATE TABLE service_roles (
    client_id   TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    code        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (client_id, code)
);

-- When a service has rows here, it may only be granted for these kinds of organisation.
CREATE TABLE service_organisation_kinds (
    client_id   TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('school', 'local_authority', 'other')),
    PRIMARY KEY (client_id, kind)
);

CREATE TABLE service_access (
    user_id          TEXT    NOT NULL,
    organisation_id  TEXT    NOT NULL,
    client_id        TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    created_at       BIGINT  NOT NULL,
    PRIMARY KEY (user_id, organisation_id, client_id),
    FOREIGN KEY (user_id, organisation_id)
        REFERENCES memberships (user_id, organisation_id) ON DELETE CASCADE
);
CREATE INDEX service_access_client ON service_access (client_id, organisation_id);

CREATE TABLE service_access_roles (
    user_id          TEXT    NOT NULL,
    organisation_id  TEXT    NOT NULL,
    client_id        TEXT    NOT NULL,
    role_code        TEXT    NOT NULL,
    PRIMARY KEY (user_id, organisation_id, client_id, role_code),
    FOREIGN KEY (user_id, organisation_id, client_id)
        REFERENCES service_access (user_id, organisation_id, client_id) ON DELETE CASCADE,
    FOREIGN KEY (client_id, role_code)
        REFERENCES service_roles (client_id, code) ON DELETE CASCADE
);

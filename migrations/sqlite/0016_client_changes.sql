-- A number that moves whenever a service or one of its secrets changes, by whatever writer
-- (a node, the command line). Each node keeps services in memory for client authentication
-- and rereads this every second to know when to forget them (decision 0022).
CREATE TABLE client_changes (
    id          INTEGER  PRIMARY KEY CHECK (id = 1),
    generation  BIGINT   NOT NULL
);
INSERT INTO client_changes (id, generation) VALUES (1, 0);

CREATE TRIGGER clients_inserted AFTER INSERT ON clients
BEGIN UPDATE client_changes SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER clients_updated AFTER UPDATE ON clients
BEGIN UPDATE client_changes SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER clients_deleted AFTER DELETE ON clients
BEGIN UPDATE client_changes SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER client_secrets_inserted AFTER INSERT ON client_secrets
BEGIN UPDATE client_changes SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER client_secrets_updated AFTER UPDATE ON client_secrets
BEGIN UPDATE client_changes SET generation = generation + 1 WHERE id = 1; END;
CREATE TRIGGER client_secrets_deleted AFTER DELETE ON client_secrets
BEGIN UPDATE client_changes SET generation = generation + 1 WHERE id = 1; END;

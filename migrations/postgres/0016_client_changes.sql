-- A number that moves whenever a service or one of its secrets changes, by whatever writer
-- (a node, the command line). Each node keeps services in memory for client authentication
-- and rereads this every second to know when to forget them (decision 0022).
CREATE TABLE client_changes (
    id          INTEGER  PRIMARY KEY CHECK (id = 1),
    generation  BIGINT   NOT NULL
);
INSERT INTO client_changes (id, generation) VALUES (1, 0);

CREATE FUNCTION note_client_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE client_changes SET generation = generation + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER clients_changed AFTER INSERT OR UPDATE OR DELETE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION note_client_change();
CREATE TRIGGER client_secrets_changed AFTER INSERT OR UPDATE OR DELETE ON client_secrets
    FOR EACH STATEMENT EXECUTE FUNCTION note_client_change();

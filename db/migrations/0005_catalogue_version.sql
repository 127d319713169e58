-- A counter that moves whenever the catalogue changes, so a web process can keep the catalogue in
-- memory and re-read it only when it moved (every inbound message needs the catalogue; reading
-- and aggregating it on each one was a large part of the webhook's cost).
CREATE TABLE catalogue_version (
    id       BOOLEAN PRIMARY KEY DEFAULT TRUE,
    version  BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT catalogue_version_one_row CHECK (id)
);
INSERT INTO catalogue_version DEFAULT VALUES;

CREATE FUNCTION products_bump_catalogue_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalogue_version SET version = version + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER products_catalogue_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION products_bump_catalogue_version();

-- Issue 9, items 5 and 9: keys that differ only in case or spacing are one key, and the money
-- history (ledger, orders, audit) is append-only. docs/decisions.md says why.

-- === Normalised keys ============================================================================

-- The one spelling of "the same key": whitespace runs made one space, trimmed, lower-cased
-- (lower() follows the database's Unicode case rules). Every comparison of such keys happens in
-- SQL through this function, so the check in the code and the unique index agree.
CREATE FUNCTION norm_key(value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT lower(btrim(regexp_replace(value, '\s+', ' ', 'g'))) $$;

-- Payment references: rows already recorded twice under one key keep their money; the later ones
-- get a reference naming them as duplicates (the audit says what it was), so the index can exist.
WITH ranked AS (
    SELECT id, reference,
           row_number() OVER (PARTITION BY retailer_id, norm_key(reference) ORDER BY id) AS n
    FROM credit_transactions
    WHERE type = 'PAYMENT' AND reference IS NOT NULL
), renamed AS (
    UPDATE credit_transactions t
    SET reference = t.reference || ' (duplicate #' || t.id || ')'
    FROM ranked r
    WHERE r.id = t.id AND r.n > 1
    RETURNING t.id, t.retailer_id, r.reference AS old_reference, t.reference AS new_reference
)
INSERT INTO audit_log (retailer_id, action, reference, old_value, new_value, performed_by, reason)
SELECT retailer_id, 'PAYMENT_REFERENCE_RENAMED', 'txn:' || id,
       jsonb_build_object('paymentReference', old_reference),
       jsonb_build_object('paymentReference', new_reference),
       'migration 0009', 'a payment reference is unique per retailer, whatever its case or spacing'
FROM renamed;

DROP INDEX credit_transactions_payment_reference_key;
-- A payment reference is used once per retailer, whatever its case or spacing. The name is the
-- old index's, so code that maps its violation to DUPLICATE_REFERENCE keeps working.
CREATE UNIQUE INDEX credit_transactions_payment_reference_key
    ON credit_transactions (retailer_id, norm_key(reference))
    WHERE type = 'PAYMENT' AND reference IS NOT NULL;

-- SKUs: the same treatment (a later duplicate is renamed, order lines keep their snapshot).
WITH ranked AS (
    SELECT id, sku, row_number() OVER (PARTITION BY norm_key(sku) ORDER BY id) AS n
    FROM products
), renamed AS (
    UPDATE products p SET sku = p.sku || ' (duplicate #' || p.id || ')'
    FROM ranked r
    WHERE r.id = p.id AND r.n > 1
    RETURNING p.id, r.sku AS old_sku, p.sku AS new_sku
)
INSERT INTO audit_log (action, reference, old_value, new_value, performed_by, reason)
SELECT 'SKU_RENAMED', 'product:' || id, jsonb_build_object('sku', old_sku),
       jsonb_build_object('sku', new_sku), 'migration 0009',
       'a SKU is unique whatever its case or spacing'
FROM renamed;

-- The SKU as typed stays the display; this index makes `ghee-1` the same SKU as `GHEE-1`.
CREATE UNIQUE INDEX products_sku_norm_key ON products (norm_key(sku));

-- Categories: one row per category, its name the spelling first typed; a product's category is
-- one of them. A product written with `staples` when `Staples` exists is filed under `Staples`
-- (the trigger below), and renaming a category renames it for every product (ON UPDATE CASCADE).
CREATE TABLE product_categories (
    name  TEXT PRIMARY KEY,
    CONSTRAINT product_categories_name_trimmed CHECK (name = btrim(name))
);
CREATE UNIQUE INDEX product_categories_norm_key ON product_categories (norm_key(name));

UPDATE products p SET category = c.name
FROM (
    SELECT DISTINCT ON (norm_key(category)) norm_key(category) AS key, btrim(category) AS name
    FROM products ORDER BY norm_key(category), id
) c
WHERE norm_key(p.category) = c.key AND p.category IS DISTINCT FROM c.name;
INSERT INTO product_categories (name) SELECT DISTINCT category FROM products;

CREATE FUNCTION products_canonical_category() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.category IS NULL THEN
        RETURN NEW;  -- products.category NOT NULL says what is wrong
    END IF;
    -- A new key registers its spelling; a known key keeps the spelling it has (a concurrent
    -- first writer of the same key wins through the unique index, and this one waits for it).
    INSERT INTO product_categories (name) VALUES (btrim(NEW.category)) ON CONFLICT DO NOTHING;
    SELECT name INTO STRICT NEW.category
    FROM product_categories WHERE norm_key(name) = norm_key(NEW.category);
    RETURN NEW;
END
$$;

CREATE TRIGGER products_category
    BEFORE INSERT OR UPDATE OF category ON products
    FOR EACH ROW EXECUTE FUNCTION products_canonical_category();

ALTER TABLE products
    ADD CONSTRAINT products_category_fkey FOREIGN KEY (category)
    REFERENCES product_categories (name) ON UPDATE CASCADE;

-- === Append-only money history ==================================================================

-- A retailer with money history cannot be deleted (it is to be deactivated instead): deleting one
-- used to cascade to its ledger, orders, account and audit entries.
ALTER TABLE credit_accounts
    DROP CONSTRAINT credit_accounts_retailer_id_fkey,
    ADD CONSTRAINT credit_accounts_retailer_id_fkey
        FOREIGN KEY (retailer_id) REFERENCES retailers (id) ON DELETE RESTRICT;
ALTER TABLE credit_transactions
    DROP CONSTRAINT credit_transactions_retailer_id_fkey,
    ADD CONSTRAINT credit_transactions_retailer_id_fkey
        FOREIGN KEY (retailer_id) REFERENCES retailers (id) ON DELETE RESTRICT;
ALTER TABLE orders
    DROP CONSTRAINT orders_retailer_id_fkey,
    ADD CONSTRAINT orders_retailer_id_fkey
        FOREIGN KEY (retailer_id) REFERENCES retailers (id) ON DELETE RESTRICT;
ALTER TABLE order_items
    DROP CONSTRAINT order_items_order_id_fkey,
    ADD CONSTRAINT order_items_order_id_fkey
        FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE RESTRICT;
ALTER TABLE audit_log
    DROP CONSTRAINT audit_log_retailer_id_fkey,
    ADD CONSTRAINT audit_log_retailer_id_fkey
        FOREIGN KEY (retailer_id) REFERENCES retailers (id) ON DELETE RESTRICT;

-- The audit trail is written once: no UPDATE, no DELETE. (TRUNCATE, which fires no row trigger,
-- stays possible for whoever owns the database: tests empty tables with it.)
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % of entry % refused', TG_OP, OLD.id
        USING ERRCODE = 'restrict_violation', HINT = 'write a new entry instead';
END
$$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- A ledger row's amount, direction, type and retailer are written once, and no row is deleted:
-- a correction is a new row (an adjustment or a reversal). What a row's life moves on (status,
-- cleared_amount, cleared_at, reminder fields, notes) may still change.
CREATE FUNCTION credit_transactions_written_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'credit_transactions is append-only: DELETE of transaction % refused', OLD.id
            USING ERRCODE = 'restrict_violation', HINT = 'write an adjustment or a reversal';
    END IF;
    IF (NEW.amount, NEW.direction, NEW.type, NEW.retailer_id)
        IS DISTINCT FROM (OLD.amount, OLD.direction, OLD.type, OLD.retailer_id) THEN
        RAISE EXCEPTION 'transaction %: amount, direction, type and retailer are written once', OLD.id
            USING ERRCODE = 'restrict_violation', HINT = 'write an adjustment or a reversal';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER credit_transactions_written_once
    BEFORE UPDATE OF amount, direction, type, retailer_id OR DELETE ON credit_transactions
    FOR EACH ROW EXECUTE FUNCTION credit_transactions_written_once();

-- Running the business day (issue 12, DESIGN section 10): the order lifecycle with who did what
-- and when, returns linked to their order, and the indexes of the operators' lists (orders at
-- 1,000,000 rows, retailers at 100,000, a retailer's statement).

-- === Orders: PLACED -> DISPATCHED -> DELIVERED; CANCELLED (before dispatch); FAILED =============

ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('PLACED', 'DISPATCHED', 'DELIVERED', 'CANCELLED', 'FAILED'));

-- Each status's time and the person who set it (failed_at and failure_reason exist already).
ALTER TABLE orders
    ADD COLUMN dispatched_at  TIMESTAMPTZ,
    ADD COLUMN dispatched_by  TEXT,
    ADD COLUMN delivered_at   TIMESTAMPTZ,
    ADD COLUMN delivered_by   TEXT,
    ADD COLUMN cancelled_at   TIMESTAMPTZ,
    ADD COLUMN cancelled_by   TEXT,
    ADD COLUMN cancel_reason  TEXT,
    ADD COLUMN failed_by      TEXT;

-- Orders failed before this migration were failed by someone the audit log names; their row
-- gets the name so every closed order says who closed it.
UPDATE orders o SET failed_by = a.performed_by
FROM (SELECT DISTINCT ON ((new_value ->> 'orderId')::bigint)
             (new_value ->> 'orderId')::bigint AS order_id, performed_by
      FROM audit_log WHERE action = 'ORDER_FAILED' AND new_value ? 'orderId'
      ORDER BY (new_value ->> 'orderId')::bigint, id) a
WHERE o.id = a.order_id AND o.status = 'FAILED' AND o.failed_by IS NULL;

-- The order's history, one row per move (its placing is the order row itself). Written in the
-- transaction of the move; never changed.
CREATE TABLE order_events (
    id            BIGSERIAL PRIMARY KEY,
    order_id      BIGINT NOT NULL REFERENCES orders (id) ON DELETE RESTRICT,
    action        TEXT NOT NULL,
    from_status   TEXT NOT NULL,
    to_status     TEXT NOT NULL,
    reason        TEXT,
    transaction_id BIGINT REFERENCES credit_transactions (id),
    performed_by  TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT order_events_action_check
        CHECK (action IN ('dispatch', 'deliver', 'cancel', 'fail', 'return'))
);
CREATE INDEX order_events_order_idx ON order_events (order_id, id);

-- A cancelled order's reversal says so, as a failed order's says order_failed.
ALTER TABLE credit_transactions DROP CONSTRAINT credit_transactions_reason_check;
ALTER TABLE credit_transactions ADD CONSTRAINT credit_transactions_reason_check CHECK (
    reason IS NULL
    OR reason IN ('return', 'dispute', 'discount', 'correction', 'order_failed', 'order_cancelled')
);

-- What came back on a return (a credit ADJUSTMENT with reason 'return' and the order's id), at
-- the order's snapshot prices: a later return of the same product is limited by these.
CREATE TABLE return_items (
    id              BIGSERIAL PRIMARY KEY,
    transaction_id  BIGINT NOT NULL REFERENCES credit_transactions (id) ON DELETE RESTRICT,
    order_id        BIGINT NOT NULL REFERENCES orders (id) ON DELETE RESTRICT,
    product_id      BIGINT NOT NULL REFERENCES products (id),
    sku             TEXT NOT NULL,
    name            TEXT NOT NULL,
    unit_price      BIGINT NOT NULL,
    quantity        INTEGER NOT NULL,
    line_total      BIGINT NOT NULL,
    CONSTRAINT return_items_quantity_pos CHECK (quantity > 0),
    CONSTRAINT return_items_line_total CHECK (line_total = unit_price * quantity)
);
CREATE INDEX return_items_order_idx ON return_items (order_id);

-- === The operators' lists =========================================================================

-- Orders newest first, walked by keyset (created_at, id): all of them, by status, by retailer.
CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
CREATE INDEX orders_status_created_idx ON orders (status, created_at DESC, id DESC);
CREATE INDEX orders_retailer_created_idx ON orders (retailer_id, created_at DESC, id DESC);
DROP INDEX orders_retailer_idx;

-- Checkouts by status, newest first.
CREATE INDEX pending_orders_status_created_idx ON pending_orders (status, created_at DESC, id DESC);

-- A retailer's statement: its rows by business day.
CREATE INDEX credit_transactions_statement_idx ON credit_transactions (retailer_id, txn_date, id);

-- Retailer search by name, shop or number (any part of them, three characters or more) and the
-- name order its pages walk. The console's migration (issue 14) creates the same two indexes under
-- the same names; whichever runs first makes them, the other finds them.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS retailers_search_trgm_idx
    ON retailers USING gin ((name || ' ' || shop_name || ' ' || phone) gin_trgm_ops);
CREATE INDEX IF NOT EXISTS retailers_name_id_idx ON retailers (name, id);
-- Retailers of one credit status, in name order (the paused and blocked lists).
CREATE INDEX retailers_status_name_idx ON retailers (credit_status, name, id);

-- Products by name (the catalogue list's order and its search).
CREATE INDEX products_name_id_idx ON products (name, id);

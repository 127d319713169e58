-- The ledger's own additions (issue 3).

-- A transaction's business date (in BUSINESS_TZ), set by the ledger operations when they write a
-- row. The overdue rule counts "days unpaid" from it, so it must not depend on the reader's zone.
ALTER TABLE credit_transactions ADD COLUMN txn_date DATE;

-- Rows written without it (demo seed, hand-written SQL) take the day of created_at in the default
-- business zone; the ledger always sets it explicitly from its configured zone.
CREATE FUNCTION credit_transactions_fill_txn_date() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.txn_date IS NULL THEN
        NEW.txn_date := (NEW.created_at AT TIME ZONE 'Asia/Kolkata')::date;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER credit_transactions_txn_date
    BEFORE INSERT ON credit_transactions
    FOR EACH ROW EXECUTE FUNCTION credit_transactions_fill_txn_date();

UPDATE credit_transactions SET txn_date = (created_at AT TIME ZONE 'Asia/Kolkata')::date
    WHERE txn_date IS NULL;
ALTER TABLE credit_transactions ALTER COLUMN txn_date SET NOT NULL;

-- Open debits (orders and debit adjustments) with everything aging, the overdue rule, the at-risk
-- list and the profile read, so those read the index alone and never the whole ledger.
CREATE INDEX credit_transactions_open_debits_idx
    ON credit_transactions (retailer_id, due_date)
    INCLUDE (amount, cleared_amount, txn_date, reminder_count)
    WHERE status IN ('OPEN', 'PARTIAL') AND direction = 'DEBIT';

-- Recent payments per retailer (profile).
CREATE INDEX credit_transactions_payments_idx
    ON credit_transactions (retailer_id, created_at DESC) WHERE type = 'PAYMENT';

-- Per-retailer aging, kept with the running outstanding so the risk dashboard and the at-risk
-- list read 100k account rows instead of the ledger. The amounts are the open debits' unpaid parts
-- by days past due as of `aging_as_of`; they are exact for that business day only. The ledger
-- operations recompute a retailer's row after each change, the daily guardrails evaluation
-- recomputes every row, and readers compute rows of another day from the ledger.
ALTER TABLE credit_accounts
    ADD COLUMN aging_as_of     DATE,
    ADD COLUMN aged_current    BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN aged_1_30       BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN aged_31_60      BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN aged_61_90      BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN aged_90_plus    BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN oldest_due_date DATE,
    -- unpaid on debits older than max_outstanding_days (what stops credit), as of aging_as_of
    ADD COLUMN beyond_unpaid   BIGINT NOT NULL DEFAULT 0;

-- Any write to a debit's amounts, status or dates that did not recompute the row (seed data,
-- hand-written SQL) marks the retailer's aging stale, so readers never trust an outdated row. The
-- ledger operations recompute after their writes, in the same transaction. Reminder bookkeeping
-- does not touch aging and leaves it alone.
CREATE FUNCTION credit_accounts_aging_stale_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE credit_accounts SET aging_as_of = NULL
    WHERE aging_as_of IS NOT NULL
      AND retailer_id IN (SELECT retailer_id FROM new_rows WHERE direction = 'DEBIT');
    RETURN NULL;
END
$$;

CREATE FUNCTION credit_accounts_aging_stale_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE credit_accounts SET aging_as_of = NULL
    WHERE aging_as_of IS NOT NULL
      AND retailer_id IN (
          SELECT n.retailer_id FROM new_rows n JOIN old_rows o ON o.id = n.id
          WHERE n.direction = 'DEBIT'
            AND (n.status, n.amount, n.cleared_amount, n.due_date, n.txn_date, n.retailer_id)
                IS DISTINCT FROM
                (o.status, o.amount, o.cleared_amount, o.due_date, o.txn_date, o.retailer_id));
    RETURN NULL;
END
$$;

CREATE TRIGGER credit_transactions_aging_insert
    AFTER INSERT ON credit_transactions REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION credit_accounts_aging_stale_on_insert();
CREATE TRIGGER credit_transactions_aging_update
    AFTER UPDATE ON credit_transactions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION credit_accounts_aging_stale_on_update();

-- Accounts owing something, by the day their aging is for (readers find stale ones quickly).
CREATE INDEX credit_accounts_aging_idx ON credit_accounts (aging_as_of) WHERE outstanding > 0;

-- Open debits reminded at least twice (the at-risk list's "repeated reminders").
CREATE INDEX credit_transactions_reminded_idx
    ON credit_transactions (retailer_id) INCLUDE (reminder_count)
    WHERE status IN ('OPEN', 'PARTIAL') AND direction = 'DEBIT' AND reminder_count >= 2;

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

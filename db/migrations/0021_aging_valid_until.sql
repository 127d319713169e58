-- Admin reads at scale (issue 17): the stored aging holds for a range of days, not one.

-- The last business day a row's aged_*, oldest_due_date and beyond_unpaid hold for: the day
-- before the first of its open debits crosses a bucket boundary or the allowed days (db.aging).
-- Before the day's refresh, readers then age from the ledger only the accounts whose debits
-- moved overnight (about one in twenty), not every account aged yesterday. '-infinity' until a
-- row is first aged (a row marked stale has aging_as_of NULL, as before); rows aged before this
-- migration hold for their own day only.
ALTER TABLE credit_accounts ADD COLUMN aging_valid_until DATE NOT NULL DEFAULT '-infinity';
UPDATE credit_accounts SET aging_valid_until = aging_as_of WHERE aging_as_of IS NOT NULL;

-- A row marked stale (aging_as_of set NULL: by the triggers of 0002, or a change of allowed days)
-- holds for no day, whoever marks it.
CREATE FUNCTION credit_accounts_aging_valid_on_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.aging_as_of IS NULL THEN
        NEW.aging_valid_until := '-infinity';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER credit_accounts_aging_valid
    BEFORE UPDATE OF aging_as_of ON credit_accounts
    FOR EACH ROW EXECUTE FUNCTION credit_accounts_aging_valid_on_stale();

-- Accounts owing something by the last day their aging holds (NULL for the others), with what
-- the dashboard and the at-risk list read of them: the stale ones (db.aging.STALE: valid before
-- the day) and the fresh ones (db.aging.FRESH) are read from this index alone. Not partial, so
-- that ANALYZE's statistics of the expression count only accounts owing something.
CREATE INDEX credit_accounts_aging_valid_idx
    ON credit_accounts ((CASE WHEN outstanding > 0 THEN aging_valid_until END))
    INCLUDE (aging_valid_until, aging_as_of, outstanding, retailer_id, credit_limit,
             aged_current, aged_1_30, aged_31_60, aged_61_90, aged_90_plus, oldest_due_date,
             beyond_unpaid, max_outstanding_days);

-- The few retailers whose credit is not ACTIVE (the at-risk list leaves them out; the dashboard
-- counts them), without reading every retailer.
CREATE INDEX retailers_not_active_idx ON retailers (credit_status) WHERE credit_status <> 'ACTIVE';

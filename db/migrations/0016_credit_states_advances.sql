-- Issue 11 (credit states as a credit controller means them) and the advances of issue 12.
-- docs/decisions.md ("Credit states", "Advances") says why each rule is as it is.

-- Money received beyond what was owed, kept for the next debits. A debit written while there is
-- an advance is paid from it at once, so an account never holds an advance and owe money at once:
-- for every retailer, sum(DEBIT rows) - sum(CREDIT rows) = outstanding - advance.
ALTER TABLE credit_accounts
    ADD COLUMN advance BIGINT NOT NULL DEFAULT 0,
    ADD CONSTRAINT credit_accounts_advance_nonneg CHECK (advance >= 0),
    ADD CONSTRAINT credit_accounts_advance_or_owed CHECK (advance = 0 OR outstanding = 0);

-- An operator's override of the overdue rule (`unpause ... until`): up to and including this
-- business day, debits unpaid beyond max_outstanding_days do not stop this retailer's credit (the
-- limit and the largest order still do). Past days mean nothing; readers compare with today.
ALTER TABLE credit_accounts ADD COLUMN overdue_override_until DATE;

-- Overrides are few: the at-risk list and the dashboard find the live ones through this index.
CREATE INDEX credit_accounts_override_idx ON credit_accounts (overdue_override_until)
    WHERE overdue_override_until IS NOT NULL;

-- BLOCKED is a person's decision and always says why (the pause columns hold who, when and why
-- for either stop). A block set by hand before this had no reason to give: it says so.
UPDATE retailers SET credit_pause_reason = 'blocked before block reasons were recorded'
    WHERE credit_status = 'BLOCKED' AND credit_pause_reason IS NULL;
ALTER TABLE retailers ADD CONSTRAINT retailers_blocked_reason CHECK (
    credit_status <> 'BLOCKED' OR credit_pause_reason IS NOT NULL
);

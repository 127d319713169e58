-- Jobs at scale (issue 17).

-- The reminders sweep reads open debits by due date (those due by the horizon, to find the ones
-- owed a reminder today) with what decides it, from this index alone; then it reads only the
-- retailers owed one, through credit_transactions_open_debits_idx.
CREATE INDEX credit_transactions_reminder_idx
    ON credit_transactions (due_date)
    INCLUDE (retailer_id, amount, cleared_amount, reminder_queued_at)
    WHERE status IN ('OPEN', 'PARTIAL') AND direction = 'DEBIT';

-- `python -m bot jobs list` (each job's latest run) and the worker's catch-up (today's runs).
CREATE INDEX job_runs_job_started_idx ON job_runs (job, started_at DESC);
CREATE INDEX job_runs_as_of_idx ON job_runs (as_of, job);

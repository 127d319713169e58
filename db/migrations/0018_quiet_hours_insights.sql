-- What retailers read, and when (issue 13).

-- Quiet hours: a business-initiated message queued (or due again) inside QUIET_HOURS waits for
-- them to end. This is the moment it waits for (its next_attempt_at is set to it too), so the
-- outbox shows why a row is not going yet and when it will.
ALTER TABLE outbox_messages ADD COLUMN quiet_until TIMESTAMPTZ;

-- `insights off` in chat: no weekly insights message while set (`insights on` clears it).
ALTER TABLE retailers ADD COLUMN insights_off_at TIMESTAMPTZ;

-- The follow-up sweep runs every 15 minutes over open checkouts.
CREATE INDEX pending_orders_open_idx ON pending_orders (updated_at)
    WHERE status = 'PENDING' AND follow_up_count = 0;

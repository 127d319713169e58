-- Delivery as Twilio documents it (issue 16) and reminders counted when sent (issue 9).

-- Failures Twilio calls temporary (21611, 30001, 63018, 63038, ...) are sent again after a long
-- backoff; this counts them, across the rows a message was sent again as.
ALTER TABLE outbox_messages ADD COLUMN temporary_failures INTEGER NOT NULL DEFAULT 0;
-- Set when an attempt may have reached Twilio without our knowing (a 5xx, a read timeout, a
-- sender that died holding the row): the time it began. Before sending again, the sender looks
-- for the message in Twilio's Messages list since then, and sends only if it is not there.
ALTER TABLE outbox_messages ADD COLUMN unconfirmed_since TIMESTAMPTZ;
-- A row that sends again a message Twilio reported failed for a temporary reason: the failed
-- row keeps its SID and history, and a late "delivered" for it cancels this one.
ALTER TABLE outbox_messages ADD COLUMN retry_of BIGINT
    REFERENCES outbox_messages (id) ON DELETE SET NULL;

-- When Twilio reported the retailer opted out (21610) or blocked the business (63014). Nothing
-- is sent to them until they write in after it (`last_inbound_at`).
ALTER TABLE retailers ADD COLUMN twilio_opted_out_at TIMESTAMPTZ;

-- `reminder_sent_at` / `reminder_count` now count reminders handed to Twilio; the reminders
-- job's "already reminded for this point" marker is the time one was queued.
ALTER TABLE credit_transactions ADD COLUMN reminder_queued_at TIMESTAMPTZ;
UPDATE credit_transactions SET reminder_queued_at = reminder_sent_at
WHERE reminder_sent_at IS NOT NULL;

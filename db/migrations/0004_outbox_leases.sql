-- The outbox sender leases rows (status SENDING, lease end in next_attempt_at) and sweeps expired
-- leases back to QUEUED every second; this keeps that sweep off a scan of the whole history.
CREATE INDEX outbox_messages_lease_idx ON outbox_messages (next_attempt_at) WHERE status = 'SENDING';
-- HELD rows (no Content SID) are re-queued when they become sendable; this keeps that check small.
CREATE INDEX outbox_messages_held_idx ON outbox_messages (created_at) WHERE status = 'HELD';

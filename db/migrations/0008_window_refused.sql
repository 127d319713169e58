-- When Twilio refused a free-form message as outside the 24-hour window (error 63016): until the
-- recipient writes in again, the sender trusts that over its own reckoning of the window.
ALTER TABLE outbox_messages ADD COLUMN window_refused_at TIMESTAMPTZ;

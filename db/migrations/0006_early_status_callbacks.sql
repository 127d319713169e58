-- Status callbacks that arrive before their message's SID is recorded: Twilio may call back
-- between its answer to the sender and the sender's write of the SID it was given. They wait
-- here; the outbox sender applies them once a message has that SID (never moving a status back)
-- and drops, after a day, those that no message of ours ever claims.
CREATE TABLE early_status_callbacks (
    twilio_sid     TEXT NOT NULL,
    status         TEXT NOT NULL,
    error_code     TEXT,
    error_message  TEXT,
    received_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (twilio_sid, status)
);

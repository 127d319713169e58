-- Payments that record themselves (issue 15): gateway payment links and their webhook events,
-- bank statement lines, and where each recorded payment came from.

-- A retailer's UPI address (VPA), stored lowercased, so a bank line that names it is theirs.
ALTER TABLE retailers ADD COLUMN vpa TEXT;
ALTER TABLE retailers ADD CONSTRAINT retailers_vpa_format
    CHECK (vpa IS NULL OR vpa ~ '^[a-z0-9][a-z0-9._-]{1,255}@[a-z][a-z0-9.-]{1,63}$');
CREATE UNIQUE INDEX retailers_vpa_key ON retailers (vpa) WHERE vpa IS NOT NULL;

-- Payment links made through the gateway for what a retailer owes. A row is written (CREATING)
-- before the gateway is asked, so its id names the link at the gateway (`reference_id`); it
-- becomes ACTIVE with the gateway's id and URL, or FAILED. At most one live link per retailer
-- and amount, so two workers asking at once make one.
CREATE TABLE payment_links (
    id                BIGSERIAL PRIMARY KEY,
    retailer_id       BIGINT NOT NULL REFERENCES retailers (id) ON DELETE CASCADE,
    provider          TEXT NOT NULL,
    amount            BIGINT NOT NULL,
    business_day      DATE NOT NULL,
    status            TEXT NOT NULL DEFAULT 'CREATING',
    provider_link_id  TEXT,
    short_url         TEXT,
    expires_at        TIMESTAMPTZ NOT NULL,
    error             TEXT,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    CONSTRAINT payment_links_amount_pos CHECK (amount > 0),
    CONSTRAINT payment_links_status_check CHECK (
        status IN ('CREATING', 'ACTIVE', 'PAID', 'CANCELLED', 'EXPIRED', 'FAILED')
    ),
    CONSTRAINT payment_links_active_url CHECK (
        status <> 'ACTIVE' OR (provider_link_id IS NOT NULL AND short_url IS NOT NULL)
    )
);
CREATE UNIQUE INDEX payment_links_provider_id_key
    ON payment_links (provider, provider_link_id) WHERE provider_link_id IS NOT NULL;
CREATE UNIQUE INDEX payment_links_live_key
    ON payment_links (retailer_id, amount) WHERE status IN ('CREATING', 'ACTIVE');

-- Each gateway webhook event is handled once: its id is claimed in the transaction that acts
-- on it, so a redelivery (or ten at once) finds it claimed.
CREATE TABLE gateway_events (
    provider     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    event        TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    payload      JSONB NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    CONSTRAINT gateway_events_pkey PRIMARY KEY (provider, event_id)
);

-- One row per bank statement imported (file, layout, who, what it found).
CREATE TABLE bank_imports (
    id           BIGSERIAL PRIMARY KEY,
    file_name    TEXT NOT NULL DEFAULT '',
    layout       TEXT NOT NULL,
    imported_by  TEXT NOT NULL,
    counts       JSONB NOT NULL DEFAULT '{}',
    created_at   TIMESTAMPTZ NOT NULL
);

-- Money received that the service recorded itself, or holds for an operator: a gateway payment
-- (external_id = the gateway's payment id) or a bank statement credit line (external_id = its
-- UTR, normalised, or a fingerprint of a line without one). Unique per source, so a redelivered
-- event or a re-imported file finds its row and records nothing twice.
--   RECORDED   the whole amount recorded as a PAYMENT (payment_transaction_id)
--   EXCESS     matched, but more than was owed: recorded_amount recorded, `excess` held
--   DUPLICATE  its reference was already a recorded payment (duplicate_of); nothing recorded
--   UNMATCHED  no confident retailer: an operator assigns or dismisses it
--   DISMISSED  an operator said it is not a retailer's payment (note says why)
CREATE TABLE received_payments (
    id                      BIGSERIAL PRIMARY KEY,
    source                  TEXT NOT NULL,
    external_id             TEXT NOT NULL,
    import_id               BIGINT REFERENCES bank_imports (id) ON DELETE SET NULL,
    line_no                 INTEGER,
    received_on             DATE NOT NULL,
    amount                  BIGINT NOT NULL,
    reference               TEXT,
    narration               TEXT NOT NULL DEFAULT '',
    payer                   TEXT,
    retailer_id             BIGINT REFERENCES retailers (id) ON DELETE CASCADE,
    matched_by              TEXT,
    status                  TEXT NOT NULL,
    payment_transaction_id  BIGINT REFERENCES credit_transactions (id) ON DELETE CASCADE,
    duplicate_of            BIGINT REFERENCES credit_transactions (id) ON DELETE SET NULL,
    recorded_amount         BIGINT NOT NULL DEFAULT 0,
    excess                  BIGINT NOT NULL DEFAULT 0,
    refunded                BIGINT NOT NULL DEFAULT 0,
    note                    TEXT,
    resolved_by             TEXT,
    resolved_at             TIMESTAMPTZ,
    created_at              TIMESTAMPTZ NOT NULL,
    updated_at              TIMESTAMPTZ NOT NULL,
    CONSTRAINT received_payments_external_key UNIQUE (source, external_id),
    CONSTRAINT received_payments_source_check CHECK (source IN ('gateway', 'bank')),
    CONSTRAINT received_payments_status_check CHECK (
        status IN ('RECORDED', 'EXCESS', 'DUPLICATE', 'UNMATCHED', 'DISMISSED')
    ),
    CONSTRAINT received_payments_amount_pos CHECK (amount > 0),
    CONSTRAINT received_payments_parts CHECK (
        recorded_amount >= 0 AND excess >= 0 AND refunded >= 0
        AND recorded_amount + excess <= amount
    ),
    CONSTRAINT received_payments_matched CHECK (
        status NOT IN ('RECORDED', 'EXCESS') OR (retailer_id IS NOT NULL AND matched_by IS NOT NULL)
    )
);
CREATE UNIQUE INDEX received_payments_payment_key
    ON received_payments (payment_transaction_id) WHERE payment_transaction_id IS NOT NULL;
CREATE INDEX received_payments_open_idx ON received_payments (id DESC) WHERE status = 'UNMATCHED';
CREATE INDEX received_payments_import_idx ON received_payments (import_id, line_no);

-- Gateway refunds, once each: the part of a received payment given back. What the service had
-- not recorded (held excess, an unmatched payment) is given back first; the rest is owed again
-- (a DEBIT adjustment, adjustment_transaction_id).
CREATE TABLE gateway_refunds (
    provider                   TEXT NOT NULL,
    refund_id                  TEXT NOT NULL,
    payment_id                 TEXT NOT NULL,
    received_payment_id        BIGINT REFERENCES received_payments (id) ON DELETE CASCADE,
    amount                     BIGINT NOT NULL,
    from_unrecorded            BIGINT NOT NULL DEFAULT 0,
    adjustment_transaction_id  BIGINT REFERENCES credit_transactions (id) ON DELETE CASCADE,
    created_at                 TIMESTAMPTZ NOT NULL,
    CONSTRAINT gateway_refunds_pkey PRIMARY KEY (provider, refund_id),
    CONSTRAINT gateway_refunds_amount_pos CHECK (amount > 0)
);

-- Where a PAYMENT came from: the gateway or a bank statement when one of those rows recorded
-- it, else an operator (admin command, API or console). One function, so the profile and the
-- statement say the same.
CREATE FUNCTION payment_source(txn_id BIGINT) RETURNS TEXT LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT source FROM received_payments WHERE payment_transaction_id = txn_id),
        'operator'
    )
$$;

-- Is this UTR (or gateway payment id) already a recorded payment's reference, for any retailer?
CREATE INDEX credit_transactions_payment_reference_ci_idx
    ON credit_transactions (lower(btrim(reference)))
    WHERE type = 'PAYMENT' AND reference IS NOT NULL;

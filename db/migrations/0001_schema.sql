-- The whole product's schema. Money is BIGINT paise; time is timestamptz.

CREATE TABLE retailers (
    id                   BIGSERIAL PRIMARY KEY,
    phone                TEXT NOT NULL,
    name                 TEXT NOT NULL,
    shop_name            TEXT NOT NULL DEFAULT '',
    language             TEXT NOT NULL DEFAULT 'en',
    credit_status        TEXT NOT NULL DEFAULT 'ACTIVE',
    credit_paused_at     TIMESTAMPTZ,
    credit_pause_reason  TEXT,
    paused_by            TEXT,
    opted_out            BOOLEAN NOT NULL DEFAULT FALSE,
    opted_out_at         TIMESTAMPTZ,
    last_inbound_at      TIMESTAMPTZ,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT retailers_phone_key UNIQUE (phone),
    CONSTRAINT retailers_phone_e164 CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    CONSTRAINT retailers_language_check CHECK (language IN ('en', 'hi')),
    CONSTRAINT retailers_credit_status_check CHECK (credit_status IN ('ACTIVE', 'PAUSED', 'BLOCKED')),
    CONSTRAINT retailers_paused_fields CHECK (
        credit_status = 'ACTIVE' OR (credit_paused_at IS NOT NULL AND paused_by IS NOT NULL)
    )
);
CREATE INDEX retailers_credit_status_idx ON retailers (credit_status);

-- One credit account per retailer. `outstanding` is the running total of open debits' unpaid
-- parts, kept in the same transaction as every ledger change (so reads never scan the ledger).
CREATE TABLE credit_accounts (
    retailer_id          BIGINT PRIMARY KEY REFERENCES retailers (id) ON DELETE CASCADE,
    credit_limit         BIGINT NOT NULL DEFAULT 0,
    max_order_value      BIGINT NOT NULL DEFAULT 5000000,
    max_outstanding_days INTEGER NOT NULL DEFAULT 30,
    payment_terms_days   INTEGER NOT NULL DEFAULT 15,
    outstanding          BIGINT NOT NULL DEFAULT 0,
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT credit_accounts_limit_nonneg CHECK (credit_limit >= 0),
    CONSTRAINT credit_accounts_max_order_pos CHECK (max_order_value > 0),
    CONSTRAINT credit_accounts_days_pos CHECK (max_outstanding_days > 0),
    CONSTRAINT credit_accounts_terms_pos CHECK (payment_terms_days > 0),
    CONSTRAINT credit_accounts_outstanding_nonneg CHECK (outstanding >= 0)
);

CREATE TABLE products (
    id          BIGSERIAL PRIMARY KEY,
    sku         TEXT NOT NULL,
    name        TEXT NOT NULL,
    category    TEXT NOT NULL,
    price       BIGINT NOT NULL,
    unit        TEXT NOT NULL DEFAULT 'pc',
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT products_sku_key UNIQUE (sku),
    CONSTRAINT products_price_pos CHECK (price > 0)
);
CREATE INDEX products_category_idx ON products (category, name) WHERE active;

CREATE TABLE pending_orders (
    id              BIGSERIAL PRIMARY KEY,
    retailer_id     BIGINT NOT NULL REFERENCES retailers (id) ON DELETE CASCADE,
    cart            JSONB NOT NULL DEFAULT '[]',
    total           BIGINT NOT NULL DEFAULT 0,
    payment_mode    TEXT,
    status          TEXT NOT NULL DEFAULT 'PENDING',
    expires_at      TIMESTAMPTZ NOT NULL,
    follow_up_sent_at TIMESTAMPTZ,
    follow_up_count INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT pending_orders_status_check
        CHECK (status IN ('PENDING', 'COMPLETED', 'CANCELLED', 'EXPIRED')),
    CONSTRAINT pending_orders_mode_check CHECK (payment_mode IS NULL OR payment_mode IN ('CREDIT', 'COD')),
    CONSTRAINT pending_orders_total_nonneg CHECK (total >= 0)
);
CREATE INDEX pending_orders_status_expires_idx ON pending_orders (status, expires_at);
CREATE INDEX pending_orders_retailer_idx ON pending_orders (retailer_id, created_at DESC);

CREATE TABLE orders (
    id               BIGSERIAL PRIMARY KEY,
    retailer_id      BIGINT NOT NULL REFERENCES retailers (id) ON DELETE CASCADE,
    pending_order_id BIGINT REFERENCES pending_orders (id),
    total            BIGINT NOT NULL,
    payment_mode     TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'PLACED',
    due_date         DATE,
    failed_at        TIMESTAMPTZ,
    failure_reason   TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- One pending order becomes at most one order, however many "confirm"s race.
    CONSTRAINT orders_pending_order_key UNIQUE (pending_order_id),
    CONSTRAINT orders_total_pos CHECK (total > 0),
    CONSTRAINT orders_payment_mode_check CHECK (payment_mode IN ('CREDIT', 'COD')),
    CONSTRAINT orders_status_check CHECK (status IN ('PLACED', 'DELIVERED', 'FAILED', 'CANCELLED')),
    CONSTRAINT orders_credit_due CHECK (payment_mode <> 'CREDIT' OR due_date IS NOT NULL)
);
CREATE INDEX orders_retailer_idx ON orders (retailer_id, created_at DESC);

CREATE TABLE order_items (
    id          BIGSERIAL PRIMARY KEY,
    order_id    BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id  BIGINT NOT NULL REFERENCES products (id),
    sku         TEXT NOT NULL,
    name        TEXT NOT NULL,
    unit_price  BIGINT NOT NULL,
    quantity    INTEGER NOT NULL,
    line_total  BIGINT NOT NULL,
    CONSTRAINT order_items_quantity_pos CHECK (quantity > 0),
    CONSTRAINT order_items_price_pos CHECK (unit_price > 0),
    CONSTRAINT order_items_line_total CHECK (line_total = unit_price * quantity)
);
CREATE INDEX order_items_order_idx ON order_items (order_id);

-- The ledger. DEBIT = a credit order; ADJUSTMENT with direction DEBIT adds to what is owed and is
-- cleared like a debit; PAYMENT and ADJUSTMENT/CREDIT clear debits; REVERSAL undoes a debit.
CREATE TABLE credit_transactions (
    id              BIGSERIAL PRIMARY KEY,
    retailer_id     BIGINT NOT NULL REFERENCES retailers (id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    direction       TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    status          TEXT NOT NULL,
    due_date        DATE,
    cleared_amount  BIGINT NOT NULL DEFAULT 0,
    cleared_at      TIMESTAMPTZ,
    reminder_sent_at TIMESTAMPTZ,
    reminder_count  INTEGER NOT NULL DEFAULT 0,
    order_id        BIGINT REFERENCES orders (id),
    related_transaction_id BIGINT REFERENCES credit_transactions (id),
    reference       TEXT,
    reason          TEXT,
    notes           TEXT,
    performed_by    TEXT NOT NULL DEFAULT 'SYSTEM',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT credit_transactions_type_check
        CHECK (type IN ('DEBIT', 'PAYMENT', 'ADJUSTMENT', 'REVERSAL')),
    CONSTRAINT credit_transactions_direction_check CHECK (direction IN ('DEBIT', 'CREDIT')),
    CONSTRAINT credit_transactions_status_check
        CHECK (status IN ('OPEN', 'PARTIAL', 'CLEARED', 'REVERSED', 'APPLIED')),
    CONSTRAINT credit_transactions_amount_pos CHECK (amount > 0),
    CONSTRAINT credit_transactions_cleared_range CHECK (cleared_amount >= 0 AND cleared_amount <= amount),
    CONSTRAINT credit_transactions_debit_due CHECK (type <> 'DEBIT' OR due_date IS NOT NULL),
    CONSTRAINT credit_transactions_reason_check CHECK (
        reason IS NULL OR reason IN ('return', 'dispute', 'discount', 'correction', 'order_failed')
    )
);
CREATE INDEX credit_transactions_status_type_idx ON credit_transactions (status, type);
CREATE INDEX credit_transactions_created_idx ON credit_transactions (created_at DESC);
CREATE INDEX credit_transactions_retailer_idx ON credit_transactions (retailer_id, created_at);
CREATE INDEX credit_transactions_open_idx ON credit_transactions (retailer_id, due_date)
    WHERE status IN ('OPEN', 'PARTIAL');
CREATE INDEX credit_transactions_order_idx ON credit_transactions (order_id) WHERE order_id IS NOT NULL;
-- A payment reference is used once per retailer.
CREATE UNIQUE INDEX credit_transactions_payment_reference_key
    ON credit_transactions (retailer_id, reference) WHERE type = 'PAYMENT' AND reference IS NOT NULL;

-- Replayed answers for the admin API's Idempotency-Key.
CREATE TABLE idempotency_keys (
    key          TEXT NOT NULL,
    scope        TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code  INTEGER NOT NULL,
    response     JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (scope, key)
);

-- Where each chatting number stands in the checkout.
CREATE TABLE conversations (
    phone        TEXT PRIMARY KEY,
    retailer_id  BIGINT REFERENCES retailers (id) ON DELETE CASCADE,
    stage        TEXT NOT NULL DEFAULT 'START',
    data         JSONB NOT NULL DEFAULT '{}',
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Each Twilio MessageSid is claimed once; its reply is stored and repeated for redeliveries.
CREATE TABLE inbound_messages (
    message_sid  TEXT PRIMARY KEY,
    phone        TEXT NOT NULL,
    retailer_id  BIGINT REFERENCES retailers (id) ON DELETE SET NULL,
    body         TEXT NOT NULL DEFAULT '',
    payload      JSONB NOT NULL DEFAULT '{}',
    reply        TEXT,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at TIMESTAMPTZ
);
CREATE INDEX inbound_messages_phone_idx ON inbound_messages (phone, received_at DESC);

-- Business-initiated messages, written in the same transaction as their cause.
CREATE TABLE outbox_messages (
    id               BIGSERIAL PRIMARY KEY,
    retailer_id      BIGINT REFERENCES retailers (id) ON DELETE CASCADE,
    to_phone         TEXT NOT NULL,
    kind             TEXT NOT NULL,
    language         TEXT NOT NULL DEFAULT 'en',
    template         TEXT NOT NULL,
    body             TEXT NOT NULL,
    variables        JSONB NOT NULL DEFAULT '{}',
    content_sid      TEXT,
    status           TEXT NOT NULL DEFAULT 'QUEUED',
    twilio_sid       TEXT,
    error_code       TEXT,
    error_message    TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    dedupe_key       TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at          TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT outbox_messages_dedupe_key UNIQUE (dedupe_key),
    CONSTRAINT outbox_messages_twilio_sid_key UNIQUE (twilio_sid),
    CONSTRAINT outbox_messages_status_check CHECK (status IN (
        'QUEUED', 'SENDING', 'HELD', 'ACCEPTED', 'SENT', 'DELIVERED', 'READ', 'FAILED', 'UNDELIVERED'
    )),
    CONSTRAINT outbox_messages_body_length CHECK (char_length(body) <= 1600)
);
CREATE INDEX outbox_messages_due_idx ON outbox_messages (next_attempt_at) WHERE status = 'QUEUED';
CREATE INDEX outbox_messages_retailer_idx ON outbox_messages (retailer_id, created_at DESC);

CREATE TABLE audit_log (
    id            BIGSERIAL PRIMARY KEY,
    retailer_id   BIGINT REFERENCES retailers (id) ON DELETE CASCADE,
    action        TEXT NOT NULL,
    reference     TEXT,
    old_value     JSONB,
    new_value     JSONB,
    performed_by  TEXT NOT NULL,
    reason        TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_retailer_idx ON audit_log (retailer_id, created_at DESC);

CREATE TABLE retailer_insights (
    retailer_id   BIGINT PRIMARY KEY REFERENCES retailers (id) ON DELETE CASCADE,
    as_of         DATE NOT NULL,
    data          JSONB NOT NULL,
    generated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per job and scheduled time: two workers or a rerun find it and do not repeat the work.
CREATE TABLE job_runs (
    id             BIGSERIAL PRIMARY KEY,
    job            TEXT NOT NULL,
    scheduled_for  TIMESTAMPTZ NOT NULL,
    as_of          DATE NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at    TIMESTAMPTZ,
    counts         JSONB NOT NULL DEFAULT '{}',
    error          TEXT,
    attempts       INTEGER NOT NULL DEFAULT 1,
    CONSTRAINT job_runs_job_scheduled_key UNIQUE (job, scheduled_for)
);

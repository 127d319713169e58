-- Named operators with roles, their API tokens and console sessions (issue 14, DESIGN section 10);
-- and the indexes the console's retailer search needs at 100,000 retailers. Operators are
-- deactivated, never deleted (their names are in the audit log), so nothing cascades.

CREATE TABLE operators (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT NOT NULL,
    -- The name as compared: Python's str.casefold() of it (so "Asha" and "ASHA" are one operator).
    name_key       TEXT NOT NULL,
    role           TEXT NOT NULL,
    phone          TEXT,
    -- argon2id, in its own encoded form ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
    password_hash  TEXT NOT NULL,
    active         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT operators_name_key UNIQUE (name_key),
    CONSTRAINT operators_phone_key UNIQUE (phone),
    CONSTRAINT operators_role_check CHECK (role IN ('viewer', 'collector', 'manager', 'owner')),
    CONSTRAINT operators_phone_e164 CHECK (phone IS NULL OR phone ~ '^\+[1-9][0-9]{6,14}$'),
    CONSTRAINT operators_name_length CHECK (char_length(name) BETWEEN 1 AND 64)
);

-- API tokens: 32 random bytes shown once; only their SHA-256 is kept (a unique key, so a request
-- finds its token with one index lookup).
CREATE TABLE operator_tokens (
    id            BIGSERIAL PRIMARY KEY,
    operator_id   BIGINT NOT NULL REFERENCES operators (id),
    token_hash    BYTEA NOT NULL,
    label         TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ,
    CONSTRAINT operator_tokens_hash_key UNIQUE (token_hash),
    CONSTRAINT operator_tokens_hash_length CHECK (octet_length(token_hash) = 32)
);
CREATE INDEX operator_tokens_operator_idx ON operator_tokens (operator_id);

-- Console sessions, kept on the server so signing out (or a new password, or a deactivation)
-- ends them at once. The cookie carries a random id; only its SHA-256 is kept.
CREATE TABLE operator_sessions (
    id            BIGSERIAL PRIMARY KEY,
    operator_id   BIGINT NOT NULL REFERENCES operators (id),
    session_hash  BYTEA NOT NULL,
    csrf_token    TEXT NOT NULL,
    -- A one-time message for the next page (set after a form succeeds: post, redirect, get).
    flash         TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT operator_sessions_hash_key UNIQUE (session_hash)
);
CREATE INDEX operator_sessions_operator_idx ON operator_sessions (operator_id);
CREATE INDEX operator_sessions_expires_idx ON operator_sessions (expires_at);

-- Retailer search by name, shop or number (any part of them): one trigram index over the three,
-- and the name order the result pages walk (keyset paging on (name, id)). The order desk's
-- migration (issue 12) creates the same two under the same names, and the status + name and
-- orders-by-status indexes the console's lists use too; whichever runs first makes these two.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS retailers_search_trgm_idx
    ON retailers USING gin ((name || ' ' || shop_name || ' ' || phone) gin_trgm_ops);
CREATE INDEX IF NOT EXISTS retailers_name_id_idx ON retailers (name, id);

-- Money history is append-only (issue 9): the payment tables added with the gateway and bank
-- import (0014) must not vanish with a retailer or a ledger row either. A retailer is never
-- deleted (the ledger's own keys already refuse it); these keys now say so themselves.
ALTER TABLE received_payments
    DROP CONSTRAINT received_payments_retailer_id_fkey,
    ADD CONSTRAINT received_payments_retailer_id_fkey
        FOREIGN KEY (retailer_id) REFERENCES retailers (id) ON DELETE RESTRICT,
    DROP CONSTRAINT received_payments_payment_transaction_id_fkey,
    ADD CONSTRAINT received_payments_payment_transaction_id_fkey
        FOREIGN KEY (payment_transaction_id) REFERENCES credit_transactions (id)
        ON DELETE RESTRICT;

ALTER TABLE gateway_refunds
    DROP CONSTRAINT gateway_refunds_adjustment_transaction_id_fkey,
    ADD CONSTRAINT gateway_refunds_adjustment_transaction_id_fkey
        FOREIGN KEY (adjustment_transaction_id) REFERENCES credit_transactions (id)
        ON DELETE RESTRICT,
    DROP CONSTRAINT gateway_refunds_received_payment_id_fkey,
    ADD CONSTRAINT gateway_refunds_received_payment_id_fkey
        FOREIGN KEY (received_payment_id) REFERENCES received_payments (id) ON DELETE RESTRICT;

ALTER TABLE payment_links
    DROP CONSTRAINT payment_links_retailer_id_fkey,
    ADD CONSTRAINT payment_links_retailer_id_fkey
        FOREIGN KEY (retailer_id) REFERENCES retailers (id) ON DELETE RESTRICT;

-- A UTR or gateway id already recorded for any retailer is found by the same key the per-retailer
-- unique index compares (norm_key, 0009), not by a second spelling of it.
DROP INDEX credit_transactions_payment_reference_ci_idx;
CREATE INDEX credit_transactions_payment_reference_key_idx
    ON credit_transactions (norm_key(reference))
    WHERE type = 'PAYMENT' AND reference IS NOT NULL;

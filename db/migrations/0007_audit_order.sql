-- The audit trail is listed in the order it was written (ids), not by each request's start time.
CREATE INDEX audit_log_retailer_id_idx ON audit_log (retailer_id, id DESC);
DROP INDEX audit_log_retailer_idx;

"""PostgreSQL: migrations, pool, queries and the ledger's transaction scripts."""

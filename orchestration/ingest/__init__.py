"""Landing zone -> raw.* in DuckDB: contract check, coercion, quarantine, idempotent upsert."""

"""Extract PostgreSQL tables into the raw zone as gzip CSV parts plus a manifest (issue 7)."""

-- The row every load's transaction updates first (take_load_lock.sql), so that any two loads conflict. BigQuery
-- cancels one of two transactions that mutate the same table at once, but a load whose MERGE has nothing to change
-- runs none, and its ledger row is an append, which conflicts with nothing: without this row such a load and a
-- concurrent MERGE could both commit against the same base. (DuckDB: loads hold the warehouse's file lock.)
CREATE TABLE IF NOT EXISTS {load_lock} (
  held_by STRING,
  held_at TIMESTAMP
)

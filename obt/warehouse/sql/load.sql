-- One load as one transaction (BigQuery script; DuckDB runs the same steps from Python): read the ledger, and
-- unless it shows this build loaded or a newer one loaded (the rule of obt.warehouse.base.LoadState.refusal),
-- MERGE the staged build into the OBT and append its 'loaded' ledger row. Both commit, or neither does.
-- The statements in braces are load_state.sql, merge.sql and insert_ledger.sql; the ledger row takes its counts
-- and finished_at from the variables below instead of parameters (obt.warehouse.bigquery.SCRIPT_VALUES).
-- A MERGE reports one total (@@row_count); the split comes from the table before and after it, which relies on
-- no OBT row carrying this build's id before its MERGE: true, since a build's id enters the OBT only through its
-- own load, which the ledger then shows.
DECLARE loaded_before INT64;
DECLARE newest_watermark INT64;
DECLARE merged_at TIMESTAMP;
DECLARE rows_before, rows_changed, rows_after, rows_stamped INT64;
DECLARE inserted_rows, updated_rows, deleted_rows INT64;

BEGIN TRANSACTION;
SET (loaded_before, newest_watermark) = (SELECT AS STRUCT times_loaded, last_watermark FROM ({load_state}));
IF loaded_before = 0 AND (newest_watermark IS NULL OR @input_watermark >= newest_watermark) THEN
  -- Inside a transaction CURRENT_TIMESTAMP() is the transaction's start: the loaded_at the MERGE stamps.
  SET merged_at = CURRENT_TIMESTAMP();
  SET rows_before = (SELECT COUNT(*) FROM {obt});
  {merge};
  SET rows_changed = @@row_count;
  SET (rows_after, rows_stamped) = (SELECT AS STRUCT COUNT(*), COUNTIF(build_id = @build_id) FROM {obt});
  SET deleted_rows = rows_changed - rows_stamped;
  SET inserted_rows = rows_after - rows_before + deleted_rows;
  SET updated_rows = rows_stamped - inserted_rows;
  {insert_ledger};
END IF;
COMMIT TRANSACTION;

SELECT
  loaded_before AS times_loaded,
  newest_watermark AS last_watermark,
  inserted_rows,
  updated_rows,
  deleted_rows,
  merged_at;

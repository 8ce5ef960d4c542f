-- One load as one transaction (BigQuery script; DuckDB runs the same steps from Python): take the load lock
-- (load_lock.sql: any two loads conflict, even one that changes no partition), read the ledger, and
-- unless it shows this build loaded or a newer one loaded (the rule of obt.warehouse.base.LoadState.refusal), or
-- the last loaded build is no longer the one the MERGE's partitions were computed against (@base_build_id, NULL
-- for a full MERGE: MergeScope.stale), MERGE the staged build into the OBT and append its 'loaded' ledger row.
-- Both commit, or neither does.
-- The statements in braces are take_load_lock.sql, load_state.sql, merge.sql and insert_ledger.sql; the ledger row takes its counts
-- and finished_at from the variables below instead of parameters (obt.warehouse.bigquery.SCRIPT_VALUES).
-- A MERGE reports one total (@@row_count); the split comes from the table before and after it, which relies on
-- no OBT row carrying this build's id before its MERGE: true, since a build's id enters the OBT only through its
-- own load, which the ledger then shows. The counts read the MERGE's partitions only ({target_partitions}, the
-- same literal filter): the rest of the table is neither changed nor scanned. When no partition changed
-- ({has_changes} is FALSE) there is no MERGE at all, and the ledger row says 0 / 0 / 0.
DECLARE loaded_before INT64;
DECLARE newest_watermark INT64;
DECLARE newest_build STRING;
DECLARE merged_at TIMESTAMP;
DECLARE rows_before, rows_changed, rows_after, rows_stamped INT64;
DECLARE inserted_rows, updated_rows, deleted_rows INT64;

BEGIN TRANSACTION;
{take_lock};
SET (loaded_before, newest_watermark, newest_build) = (
  SELECT AS STRUCT times_loaded, last_watermark, last_build_id FROM ({load_state})
);
IF loaded_before = 0 AND (newest_watermark IS NULL OR @input_watermark >= newest_watermark)
  AND (@base_build_id IS NULL OR newest_build = @base_build_id) THEN
  -- Inside a transaction CURRENT_TIMESTAMP() is the transaction's start: the loaded_at the MERGE stamps.
  SET merged_at = CURRENT_TIMESTAMP();
  SET (inserted_rows, updated_rows, deleted_rows) = (0, 0, 0);
  IF {has_changes} THEN
    SET rows_before = (SELECT COUNT(*) FROM {obt} AS t WHERE {target_partitions});
    {merge};
    SET rows_changed = @@row_count;
    SET (rows_after, rows_stamped) = (
      SELECT AS STRUCT COUNT(*), COUNTIF(t.build_id = @build_id) FROM {obt} AS t WHERE {target_partitions}
    );
    SET deleted_rows = rows_changed - rows_stamped;
    SET inserted_rows = rows_after - rows_before + deleted_rows;
    SET updated_rows = rows_stamped - inserted_rows;
  END IF;
  {insert_ledger};
END IF;
COMMIT TRANSACTION;

SELECT
  loaded_before AS times_loaded,
  newest_watermark AS last_watermark,
  newest_build AS last_build_id,
  inserted_rows,
  updated_rows,
  deleted_rows,
  merged_at;

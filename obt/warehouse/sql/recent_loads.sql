SELECT
  build_id, outcome, reason, input_watermark, rows_staged, rows_inserted, rows_updated, rows_deleted,
  bytes_staged, stage_seconds, merge_seconds, finished_at, partitions
FROM {ledger}
ORDER BY finished_at DESC
LIMIT @limit

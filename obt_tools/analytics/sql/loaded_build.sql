-- The build the OBT was last made equal to: the newest load with outcome 'loaded'. A later build whose MERGE
-- changed nothing is still this build, although no OBT row carries its id.
SELECT
  build_id,
  inputs,
  started_at,
  finished_at,
  rows_staged,
  rows_inserted,
  rows_updated,
  rows_deleted,
  stage_seconds,
  merge_seconds
FROM obt_ops.load_ledger
WHERE outcome = 'loaded'
ORDER BY finished_at DESC
LIMIT 1

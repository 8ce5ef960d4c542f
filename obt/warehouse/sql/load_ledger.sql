-- One row per completion message handled: what the load did (outcome loaded / skipped / rejected / failed) and why.
CREATE TABLE IF NOT EXISTS {ledger} (
  build_id STRING,
  message_id STRING,
  manifest_uri STRING,
  build_status STRING,
  input_watermark INT64,
  inputs STRING,
  outcome STRING,
  reason STRING,
  rows_staged INT64,
  rows_inserted INT64,
  rows_updated INT64,
  rows_deleted INT64,
  bytes_staged INT64,
  stage_seconds FLOAT64,
  merge_seconds FLOAT64,
  started_at TIMESTAMP,
  finished_at TIMESTAMP,
  -- The log_date partitions a 'loaded' row's MERGE read and wrote, as a JSON array of dates ('[]': nothing changed,
  -- no MERGE); NULL: the whole table. A JSON string, not ARRAY<DATE>: BigQuery stores a NULL array as [].
  partitions STRING
)

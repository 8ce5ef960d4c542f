INSERT INTO {ledger} (
  build_id, message_id, manifest_uri, build_status, input_watermark, inputs, outcome, reason,
  rows_staged, rows_inserted, rows_updated, rows_deleted, bytes_staged, stage_seconds, merge_seconds,
  started_at, finished_at, partitions
) VALUES (
  @build_id, @message_id, @manifest_uri, @build_status, @input_watermark, @inputs, @outcome, @reason,
  @rows_staged, @rows_inserted, @rows_updated, @rows_deleted, @bytes_staged, @stage_seconds, @merge_seconds,
  @started_at, @finished_at, @partitions
)

-- Data-quality counts of each build, from its manifest: per source read / kept / quarantined (reason = why),
-- and log locations kept but not recognised (source log_reviews, measure unknown_location, reason = the location).
CREATE TABLE IF NOT EXISTS {dq_counts} (
  build_id STRING,
  source STRING,
  measure STRING,
  reason STRING,
  row_count INT64,
  recorded_at TIMESTAMP
)

-- A build's data-quality counts as its loader recorded them: per source rows read, kept and quarantined (reason
-- says why), and log locations kept but not recognised (measure unknown_location, reason = the location).
SELECT
  source,
  measure,
  reason,
  row_count
FROM obt_ops.dq_counts
WHERE build_id = @build_id
ORDER BY source, measure, reason

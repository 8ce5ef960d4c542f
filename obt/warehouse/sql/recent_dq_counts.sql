-- Data-quality counts of the most recently recorded builds.
SELECT d.build_id, d.source, d.measure, d.reason, d.row_count, d.recorded_at
FROM {dq_counts} AS d
JOIN (
  SELECT build_id, MAX(recorded_at) AS recorded_at
  FROM {dq_counts}
  GROUP BY build_id
  ORDER BY recorded_at DESC
  LIMIT @builds
) AS latest USING (build_id)
ORDER BY d.recorded_at DESC, d.source, d.measure, d.reason

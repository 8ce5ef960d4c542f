-- Idempotent per build: a redelivered message does not add the counts twice (loads are serialised).
INSERT INTO {dq_counts} (build_id, source, measure, reason, row_count, recorded_at)
SELECT @build_id, r.source, r.measure, r.reason, r.row_count, CURRENT_TIMESTAMP()
FROM UNNEST(@rows) AS r
WHERE NOT EXISTS (SELECT 1 FROM {dq_counts} WHERE build_id = @build_id)

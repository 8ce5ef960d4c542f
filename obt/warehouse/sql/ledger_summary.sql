-- What reconcile asks the ledger: the outcomes recorded for each of @build_ids (one row per build and outcome),
-- and the newest input watermark loaded so far (the one row whose build_id is NULL).
SELECT build_id, outcome, CAST(NULL AS INT64) AS last_watermark
FROM {ledger}
WHERE build_id IN UNNEST(@build_ids)
GROUP BY build_id, outcome
UNION ALL
SELECT CAST(NULL AS STRING), CAST(NULL AS STRING), MAX(input_watermark)
FROM {ledger}
WHERE outcome = 'loaded'

-- Has this build been loaded, and what is the newest input watermark loaded so far?
SELECT
  COUNTIF(build_id = @build_id) AS times_loaded,
  MAX(input_watermark) AS last_watermark
FROM {ledger}
WHERE outcome = 'loaded'

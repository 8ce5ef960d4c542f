-- Has this build been loaded, what is the newest input watermark loaded so far, and which build was loaded last?
-- The OBT equals that last build (a load commits with its ledger row), so a new build's changed partitions are
-- diffed against its manifest (obt.load.partitions). Loads commit one after another, so the newest finished_at is
-- the last commit.
SELECT
  COUNTIF(build_id = @build_id) AS times_loaded,
  MAX(input_watermark) AS last_watermark,
  MAX_BY(build_id, finished_at) AS last_build_id,
  MAX_BY(manifest_uri, finished_at) AS last_manifest_uri
FROM {ledger}
WHERE outcome = 'loaded'

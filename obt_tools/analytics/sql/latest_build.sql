-- The build behind the OBT: the one loaded last. Rows a later load left unchanged keep their older
-- build_id, so the latest load time decides, not a count of rows.
SELECT
  build_id,
  MAX(loaded_at) AS last_loaded_at,
  COUNT(*) AS rows_from_build
FROM movie_analytics.obt
GROUP BY build_id
ORDER BY last_loaded_at DESC, build_id DESC
LIMIT 1

-- Star schema: dim_os, one row per os. The id is the rank of the name, so it is stable while the set
-- of oss is; fact_movie_analytics looks it up by name, never by position.
CREATE OR REPLACE VIEW movie_analytics.dim_os AS
SELECT
  DENSE_RANK() OVER (ORDER BY os) AS os_id,
  os
FROM (SELECT DISTINCT os FROM movie_analytics.obt)

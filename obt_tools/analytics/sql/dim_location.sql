-- Star schema: dim_location, one row per state with its census region. The id is the rank of the name,
-- so it is stable while the set of states is; fact_movie_analytics looks it up by name.
CREATE OR REPLACE VIEW movie_analytics.dim_location AS
SELECT
  DENSE_RANK() OVER (ORDER BY location) AS location_id,
  location,
  region
FROM (SELECT DISTINCT location, region FROM movie_analytics.obt)

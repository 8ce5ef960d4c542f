-- Star schema: dim_browser, one row per browser. The id is the rank of the name, so it is stable while the set
-- of browsers is; fact_movie_analytics looks it up by name, never by position.
CREATE OR REPLACE VIEW movie_analytics.dim_browser AS
SELECT
  DENSE_RANK() OVER (ORDER BY browser) AS browser_id,
  browser
FROM (SELECT DISTINCT browser FROM movie_analytics.obt)

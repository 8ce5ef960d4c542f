-- Star schema: dim_device, one row per device. The id is the rank of the name, so it is stable while the set
-- of devices is; fact_movie_analytics looks it up by name, never by position.
CREATE OR REPLACE VIEW movie_analytics.dim_device AS
SELECT
  DENSE_RANK() OVER (ORDER BY device) AS device_id,
  device
FROM (SELECT DISTINCT device FROM movie_analytics.obt)

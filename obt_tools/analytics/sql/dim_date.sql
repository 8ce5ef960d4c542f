-- Star schema (the seed's alternative design), as views over the OBT so there is one source of truth.
-- dim_date: one row per review date; date_id is the date as YYYYMMDD.
CREATE OR REPLACE VIEW movie_analytics.dim_date AS
SELECT DISTINCT
  EXTRACT(YEAR FROM log_date) * 10000 + EXTRACT(MONTH FROM log_date) * 100 + EXTRACT(DAY FROM log_date) AS date_id,
  log_date,
  EXTRACT(DAY FROM log_date) AS day,
  EXTRACT(MONTH FROM log_date) AS month,
  EXTRACT(QUARTER FROM log_date) AS quarter,
  EXTRACT(YEAR FROM log_date) AS year,
  season
FROM movie_analytics.obt

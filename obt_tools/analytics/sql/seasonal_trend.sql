-- Reviews and positive share per season. Seasons cover different numbers of days in the data
-- (the logs need not span a whole year), so reviews per day is the comparable figure.
SELECT
  season,
  COUNT(DISTINCT log_date) AS days,
  SUM(review_count) AS reviews,
  SUM(review_score) AS positive_reviews,
  SAFE_DIVIDE(SUM(review_score), SUM(review_count)) AS positive_share,
  SAFE_DIVIDE(SUM(review_count), COUNT(DISTINCT log_date)) AS reviews_per_day
FROM movie_analytics.obt
GROUP BY season
ORDER BY CASE season WHEN 'Winter' THEN 1 WHEN 'Spring' THEN 2 WHEN 'Summer' THEN 3 WHEN 'Fall' THEN 4 ELSE 5 END

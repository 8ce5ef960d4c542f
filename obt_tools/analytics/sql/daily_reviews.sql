-- Reviews and positive reviews per day for every value of each dimension the report breaks down by. The report
-- embeds these rows and sums them in the browser for the date range the reader picks, so filtering by date needs
-- no warehouse. One branch per dimension: a state's region is in reviews_by_state.
SELECT 'state' AS dimension, location AS value, log_date, SUM(review_count) AS reviews,
  SUM(review_score) AS positive_reviews
FROM movie_analytics.obt
GROUP BY location, log_date
UNION ALL
SELECT 'region', region, log_date, SUM(review_count), SUM(review_score)
FROM movie_analytics.obt
GROUP BY region, log_date
UNION ALL
SELECT 'device', device, log_date, SUM(review_count), SUM(review_score)
FROM movie_analytics.obt
GROUP BY device, log_date
UNION ALL
SELECT 'os', os, log_date, SUM(review_count), SUM(review_score)
FROM movie_analytics.obt
GROUP BY os, log_date
UNION ALL
SELECT 'browser', browser, log_date, SUM(review_count), SUM(review_score)
FROM movie_analytics.obt
GROUP BY browser, log_date
UNION ALL
SELECT 'season', season, log_date, SUM(review_count), SUM(review_score)
FROM movie_analytics.obt
GROUP BY season, log_date
ORDER BY dimension, value, log_date

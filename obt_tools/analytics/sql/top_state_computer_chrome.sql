-- The state with the most reviews written on a Computer in Chrome (ties broken by state name).
SELECT
  location AS state,
  SUM(review_count) AS reviews
FROM movie_analytics.obt
WHERE device = 'Computer' AND browser = 'Chrome'
GROUP BY location
ORDER BY reviews DESC, state
LIMIT 1

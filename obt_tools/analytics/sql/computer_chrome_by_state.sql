-- Reviews written on a Computer in Chrome, per state, most first (ties by state name). The first row answers
-- "which state has the most"; all of them tell whether that lead is more than chance.
SELECT
  location AS state,
  SUM(review_count) AS reviews
FROM movie_analytics.obt
WHERE device = 'Computer' AND browser = 'Chrome'
GROUP BY location
ORDER BY reviews DESC, state

-- Reviews and the share of positive reviews by state.
SELECT
  location AS state,
  -- region depends only on the state, so grouping by it does not split a state.
  region,
  SUM(review_count) AS reviews,
  SUM(review_score) AS positive_reviews,
  SAFE_DIVIDE(SUM(review_score), SUM(review_count)) AS positive_share
FROM movie_analytics.obt
GROUP BY location, region
ORDER BY reviews DESC, state

-- Reviews and the share of positive reviews by operating system.
SELECT
  os,
  SUM(review_count) AS reviews,
  SUM(review_score) AS positive_reviews,
  SAFE_DIVIDE(SUM(review_score), SUM(review_count)) AS positive_share
FROM movie_analytics.obt
GROUP BY os
ORDER BY reviews DESC, os

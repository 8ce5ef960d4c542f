-- Reviews, positive share and active customers per calendar month.
SELECT
  CAST(DATE_TRUNC(log_date, MONTH) AS DATE) AS month,
  SUM(review_count) AS reviews,
  SUM(review_score) AS positive_reviews,
  SAFE_DIVIDE(SUM(review_score), SUM(review_count)) AS positive_share,
  COUNT(DISTINCT customer_id) AS customers
FROM movie_analytics.obt
GROUP BY month
ORDER BY month

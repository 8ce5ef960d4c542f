-- Does spending go with liking? The per-customer figures summed once per customer, and the
-- correlation of amount spent with review score over customers who have purchases.
WITH per_customer AS (
  SELECT
    customer_id,
    MAX(amount_spent) AS amount_spent,
    SUM(review_count) AS reviews,
    SUM(review_score) AS review_score
  FROM movie_analytics.obt
  GROUP BY customer_id
)
SELECT
  COUNT(*) AS customers,
  COUNTIF(amount_spent IS NOT NULL) AS customers_with_purchases,
  SUM(amount_spent) AS amount_spent_total,
  CORR(CAST(amount_spent AS FLOAT64), CAST(review_score AS FLOAT64)) AS corr_spent_score,
  CORR(CAST(amount_spent AS FLOAT64), SAFE_DIVIDE(review_score, reviews)) AS corr_spent_positive_share
FROM per_customer

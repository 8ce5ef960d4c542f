-- Headline figures of the OBT. Purchase figures are taken once per customer (see spend_vs_score_summary).
-- rows_with_several_reviews explains why the OBT has fewer rows than reviews: one row per
-- (customer, day, device, location, os, browser), and some of those keys hold more than one review.
WITH per_customer AS (
  SELECT
    customer_id,
    MAX(amount_spent) AS amount_spent
  FROM movie_analytics.obt
  GROUP BY customer_id
),
totals AS (
  SELECT
    COUNT(*) AS obt_rows,
    SUM(review_count) AS reviews,
    SUM(review_score) AS positive_reviews,
    SAFE_DIVIDE(SUM(review_score), SUM(review_count)) AS positive_share,
    COUNTIF(review_count > 1) AS rows_with_several_reviews,
    COUNT(DISTINCT location) AS states,
    MIN(log_date) AS first_log_date,
    MAX(log_date) AS last_log_date
  FROM movie_analytics.obt
)
SELECT
  totals.*,
  (SELECT COUNT(*) FROM per_customer) AS customers,
  (SELECT COUNTIF(amount_spent IS NOT NULL) FROM per_customer) AS customers_with_purchases,
  (SELECT SUM(amount_spent) FROM per_customer) AS amount_spent_total
FROM totals

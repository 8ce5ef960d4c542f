-- Amount spent against review score, one row per customer.
-- The purchase columns are customer-level figures repeated on every OBT row of the customer: take them once
-- (MAX of equal values), never SUM them across rows. NULL when the customer has no clean purchases.
SELECT
  customer_id,
  MAX(amount_spent) AS amount_spent,
  MAX(count_invoices) AS count_invoices,
  MAX(first_invoice_date) AS first_invoice_date,
  MAX(last_invoice_date) AS last_invoice_date,
  SUM(review_count) AS reviews,
  SUM(review_score) AS review_score,
  SAFE_DIVIDE(SUM(review_score), SUM(review_count)) AS positive_share
FROM movie_analytics.obt
GROUP BY customer_id
ORDER BY customer_id

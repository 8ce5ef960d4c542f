-- Star schema: fact_movie_analytics, one row per OBT row with the dimension ids instead of names.
-- The purchase measures (amount_spent, count_invoices) are per customer and repeat on every row of the
-- customer, exactly as in the OBT: take them once per customer, never SUM them across rows.
-- The review tagger's measures are per row, like review_score: predicted_positive sums across rows;
-- sentiment_score is the mean over the row's reviews, so weight it by review_count. NULL = not scored.
CREATE OR REPLACE VIEW movie_analytics.fact_movie_analytics AS
SELECT
  o.customer_id,
  dd.date_id,
  dv.device_id,
  dl.location_id,
  dos.os_id,
  db.browser_id,
  o.review_count,
  o.review_score,
  o.amount_spent,
  o.count_invoices,
  o.first_invoice_date,
  o.last_invoice_date,
  o.predicted_positive,
  o.sentiment_score,
  o.build_id,
  o.loaded_at
FROM movie_analytics.obt AS o
JOIN movie_analytics.dim_date AS dd ON dd.log_date = o.log_date
JOIN movie_analytics.dim_device AS dv ON dv.device = o.device
JOIN movie_analytics.dim_location AS dl ON dl.location = o.location
JOIN movie_analytics.dim_os AS dos ON dos.os = o.os
JOIN movie_analytics.dim_browser AS db ON db.browser = o.browser

-- The OBT: one row per (customer_id, log_date, device, location, os, browser); see architecture.md.
CREATE TABLE IF NOT EXISTS {obt} (
  customer_id INT64,
  log_date DATE,
  season STRING,
  device STRING,
  location STRING,
  region STRING,
  os STRING,
  browser STRING,
  review_count INT64,
  review_score INT64,
  amount_spent NUMERIC,
  count_invoices INT64,
  first_invoice_date DATE,
  last_invoice_date DATE,
  predicted_positive INT64,
  sentiment_score FLOAT64,
  build_id STRING,
  loaded_at TIMESTAMP
)
PARTITION BY log_date
CLUSTER BY customer_id

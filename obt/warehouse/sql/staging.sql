-- A build's Parquet output as loaded, before the MERGE: exactly the OBT's 14 data columns.
CREATE OR REPLACE TABLE {staging} (
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
  last_invoice_date DATE
)

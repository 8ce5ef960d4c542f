-- Make the OBT equal to the staged build: update changed rows, insert new keys, delete vanished keys.
-- Keys and values are compared null-safely; unchanged rows keep their build_id and loaded_at.
-- Bounded to the log_date partitions that changed (obt.warehouse.base.MergeScope; TRUE for a full MERGE): literal
-- dates, so BigQuery prunes the rest from what it scans and rewrites. The filter must be in all three places:
-- - the source, or a staged row of an unchanged partition would find no target row (the ON clause filters those
--   out) and be inserted a second time;
-- - the ON clause, so that the join reads the target's changed partitions only;
-- - NOT MATCHED BY SOURCE: a target row the ON clause filtered out is "not matched", so without its own filter
--   every row of an unchanged partition would be deleted (and every partition scanned to find them).
MERGE {obt} AS t
USING (SELECT * FROM {staging} WHERE {source_partitions}) AS s
ON {target_partitions}
  AND t.customer_id IS NOT DISTINCT FROM s.customer_id
  AND t.log_date IS NOT DISTINCT FROM s.log_date
  AND t.device IS NOT DISTINCT FROM s.device
  AND t.location IS NOT DISTINCT FROM s.location
  AND t.os IS NOT DISTINCT FROM s.os
  AND t.browser IS NOT DISTINCT FROM s.browser
WHEN MATCHED AND (
  t.season IS DISTINCT FROM s.season
  OR t.region IS DISTINCT FROM s.region
  OR t.review_count IS DISTINCT FROM s.review_count
  OR t.review_score IS DISTINCT FROM s.review_score
  OR t.amount_spent IS DISTINCT FROM s.amount_spent
  OR t.count_invoices IS DISTINCT FROM s.count_invoices
  OR t.first_invoice_date IS DISTINCT FROM s.first_invoice_date
  OR t.last_invoice_date IS DISTINCT FROM s.last_invoice_date
  OR t.predicted_positive IS DISTINCT FROM s.predicted_positive
  OR t.sentiment_score IS DISTINCT FROM s.sentiment_score
) THEN UPDATE SET
  season = s.season,
  region = s.region,
  review_count = s.review_count,
  review_score = s.review_score,
  amount_spent = s.amount_spent,
  count_invoices = s.count_invoices,
  first_invoice_date = s.first_invoice_date,
  last_invoice_date = s.last_invoice_date,
  predicted_positive = s.predicted_positive,
  sentiment_score = s.sentiment_score,
  build_id = @build_id,
  loaded_at = CURRENT_TIMESTAMP()
WHEN NOT MATCHED BY TARGET THEN INSERT (
  customer_id, log_date, season, device, location, region, os, browser,
  review_count, review_score, amount_spent, count_invoices, first_invoice_date, last_invoice_date,
  predicted_positive, sentiment_score, build_id, loaded_at
) VALUES (
  s.customer_id, s.log_date, s.season, s.device, s.location, s.region, s.os, s.browser,
  s.review_count, s.review_score, s.amount_spent, s.count_invoices, s.first_invoice_date, s.last_invoice_date,
  s.predicted_positive, s.sentiment_score, @build_id, CURRENT_TIMESTAMP()
)
WHEN NOT MATCHED BY SOURCE AND {target_partitions} THEN DELETE

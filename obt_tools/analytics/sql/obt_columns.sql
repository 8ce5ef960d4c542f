-- One OBT row, read for its column names: optional columns (the review tagger's) are found this way because
-- INFORMATION_SCHEMA does not carry over to the local warehouse. Filtering on one day (the partition column)
-- keeps the scan to a single partition on BigQuery.
SELECT *
FROM movie_analytics.obt
WHERE log_date = @log_date
LIMIT 1

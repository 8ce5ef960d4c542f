-- The review tagger's verdict next to the rule's, per day; run only when the OBT has the tagger's columns.
-- predicted_positive counts the row's reviews the tagger calls positive (as review_score counts the rule's);
-- sentiment_score is the mean tagger score of the row's reviews, hence weighted by review_count here.
-- Rows the tagger has not scored (NULL) are left out of its denominators rather than counted as negative.
SELECT
  log_date,
  SUM(review_count) AS reviews,
  SUM(review_score) AS positive_reviews,
  SUM(IF(predicted_positive IS NULL, 0, review_count)) AS tagged_reviews,
  SUM(CAST(predicted_positive AS INT64)) AS model_positive_reviews,
  SUM(IF(sentiment_score IS NULL, 0, review_count)) AS scored_reviews,
  SUM(sentiment_score * review_count) AS sentiment_score_sum
FROM movie_analytics.obt
GROUP BY log_date
ORDER BY log_date

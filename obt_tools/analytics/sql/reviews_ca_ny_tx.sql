-- Reviews in California, New York and Texas: overall and on Apple's operating systems (iOS + MacOS).
-- The states come from a list so that a state without reviews still answers 0 instead of vanishing.
SELECT
  state,
  COALESCE(SUM(o.review_count), 0) AS reviews,
  COALESCE(SUM(IF(o.os IN ('Apple iOS', 'Apple MacOS'), o.review_count, 0)), 0) AS apple_reviews
FROM UNNEST(['California', 'New York', 'Texas']) AS state
LEFT JOIN movie_analytics.obt AS o
  ON o.location = state
GROUP BY state
ORDER BY state

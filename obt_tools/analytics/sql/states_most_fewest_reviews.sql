-- The five states with the most reviews and the five with the fewest (RANK keeps ties together).
WITH per_state AS (
  SELECT
    location AS state,
    SUM(review_count) AS reviews
  FROM movie_analytics.obt
  GROUP BY location
),
ranked AS (
  SELECT
    state,
    reviews,
    RANK() OVER (ORDER BY reviews DESC) AS rank_most,
    RANK() OVER (ORDER BY reviews ASC) AS rank_fewest
  FROM per_state
)
SELECT 'most' AS extreme, rank_most AS rank, state, reviews FROM ranked WHERE rank_most <= 5
UNION ALL
SELECT 'fewest' AS extreme, rank_fewest AS rank, state, reviews FROM ranked WHERE rank_fewest <= 5
ORDER BY extreme DESC, rank, state

-- The device with the most reviews in the East and in the West (ties broken by device name), with the region's
-- reviews and number of devices so that its share can be set against an even split.
WITH per_device AS (
  SELECT
    region,
    device,
    SUM(review_count) AS reviews
  FROM movie_analytics.obt
  GROUP BY region, device
),
ranked AS (
  SELECT
    region,
    device,
    reviews,
    SUM(reviews) OVER (PARTITION BY region) AS region_reviews,
    COUNT(*) OVER (PARTITION BY region) AS devices,
    SAFE_DIVIDE(reviews, SUM(reviews) OVER (PARTITION BY region)) AS share_of_region,
    ROW_NUMBER() OVER (PARTITION BY region ORDER BY reviews DESC, device) AS position
  FROM per_device
)
SELECT region, device, reviews, region_reviews, devices, share_of_region
FROM ranked
WHERE position = 1
ORDER BY region

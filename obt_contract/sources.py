"""Source names and the quarantine reasons each can produce.

The reasons are listed in rule order (the first failing rule wins); the build manifest lists every one of a
source's reasons, zeros included, so a reader never has to guess whether a reason was checked.
"""

from __future__ import annotations

PURCHASES = "user_purchase"
MOVIE_REVIEW = "movie_review"
LOG_REVIEWS = "log_reviews"
VENDOR_SOURCES = (MOVIE_REVIEW, LOG_REVIEWS)
# Not a file: the reviews-to-logs join, whose orphans are quarantined like any rejected row.
JOIN = "review_log_join"

REVIEW_WITHOUT_LOG = "review_without_log"
LOG_WITHOUT_REVIEW = "log_without_review"

REASONS: dict[str, tuple[str, ...]] = {
    PURCHASES: ("malformed", "missing_customer", "non_product_code", "cancelled_or_adjustment", "duplicate"),
    MOVIE_REVIEW: ("malformed", "duplicate", "conflicting_review_id"),
    LOG_REVIEWS: ("malformed", "duplicate", "conflicting_review_id", "bad_log"),
    JOIN: (REVIEW_WITHOUT_LOG, LOG_WITHOUT_REVIEW),
}
# Where the quarantine rows and counts of each source go, in the order the manifest lists them.
ALL_SOURCES = tuple(REASONS)

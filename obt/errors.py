"""Error types that cross module boundaries.

``UserError`` is what the CLI prints as one line (no traceback) before exiting non-zero. ``TransientError``
marks failures worth retrying (functions map it to a 5xx / raised exception so the platform redelivers);
``PermanentError`` marks input that will never succeed (acknowledge, log, do not retry).
"""


class UserError(Exception):
    """A problem the person running a command can fix; printed as one line."""


class TransientError(Exception):
    """Retry later: the dependency may recover (5xx, unavailable, not yet visible)."""


class PermanentError(Exception):
    """Retrying cannot help: malformed event, message or request."""

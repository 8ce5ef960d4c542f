"""Which failures of a Google API call are worth a retry (the platform redelivers the event)."""

from __future__ import annotations

from google.api_core import exceptions as gexc


def is_transient(exc: BaseException) -> bool:
    """5xx, 429, timeouts and connection failures: the dependency may recover on its own."""
    if isinstance(exc, gexc.ServerError | gexc.TooManyRequests | gexc.RetryError | gexc.DeadlineExceeded):
        return True
    if isinstance(exc, gexc.GoogleAPICallError):
        return False
    import requests
    from google.auth import exceptions as auth_exc

    return isinstance(exc, requests.ConnectionError | requests.Timeout | auth_exc.TransportError | ConnectionError)

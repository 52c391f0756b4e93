"""Which failures are the network's: worth retrying a hub look-up for, unlike bad input or a regression.

The libraries that reach the hub raise their own types (requests, httpx and its fork that
huggingface_hub uses, urllib3, urllib), often wrapped in another error, so the test walks the causes
and matches by the class names those libraries share rather than importing each of them.
"""

from __future__ import annotations

from artifacts.errors import BadInput

# Connection refused/reset, DNS, timeouts, a dropped stream: the same request may well succeed later.
TRANSIENT_CLASSES = frozenset({"ConnectionError", "TimeoutError", "Timeout", "TimeoutException", "TransportError",
                               "ProtocolError", "ChunkedEncodingError", "IncompleteRead", "RemoteDisconnected",
                               "gaierror", "URLError"})
TOO_MANY_REQUESTS = 429


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status an error reports: `response.status_code` (requests, httpx, hub) or `code` (urllib)."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status is None and type(exc).__name__ == "HTTPError":
        status = getattr(exc, "code", None)
    return status if isinstance(status, int) else None


def is_network_error(exc: BaseException | None) -> bool:
    """True when `exc`, or an error it was raised from, is a transient network failure (5xx and 429 included);
    never for BadInput, whatever caused it, nor for a 4xx answer (a missing or gated model stays missing)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, BadInput):
            return False
        status = _http_status(exc)
        if status is not None:
            return status >= 500 or status == TOO_MANY_REQUESTS
        if any(cls.__name__ in TRANSIENT_CLASSES for cls in type(exc).__mro__):
            return True
        exc = exc.__cause__ or exc.__context__
    return False

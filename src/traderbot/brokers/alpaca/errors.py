"""Alpaca failures -> our BrokerError family, each with one sentence and Alpaca's own reason code.

alpaca-py raises `APIError` carrying the HTTP response; its body is Alpaca's `{"code": 40310000, "message":
"insufficient buying power"}`. Transport failures come from `requests` (timeouts, refused connections).
"""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from alpaca.common.exceptions import APIError

from traderbot.brokers.base import (
    BrokerAuthError,
    BrokerError,
    BrokerRateLimited,
    BrokerRejected,
    BrokerTimeout,
    BrokerUnavailable,
    MalformedMessage,
)

MAX_RETRY_AFTER = 60.0  # never park the adapter longer than this on one 429


def vendor_reason(exc: APIError) -> tuple[str | None, str]:
    """Alpaca's numeric reason code (as text) and message; (None, raw text) when the body is not its JSON."""
    raw = str(exc)
    try:
        body: Any = json.loads(raw)
    except ValueError:
        return None, raw.strip()[:200] or "no message"
    if not isinstance(body, dict):
        return None, raw.strip()[:200]
    code = body.get("code")
    message = str(body.get("message") or "no message").strip()
    return (str(code) if code is not None else None), message


def retry_after(response: requests.Response | None) -> float:
    """Seconds to wait after a 429: Retry-After (seconds or HTTP date), else X-RateLimit-Reset, else 1."""
    if response is None:
        return 1.0
    value = response.headers.get("Retry-After")
    wait: float | None = None
    if value:
        try:
            wait = float(value)
        except ValueError:
            try:
                wait = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                wait = None
    if wait is None and (reset := response.headers.get("X-RateLimit-Reset")):
        try:
            wait = float(reset) - time.time()
        except ValueError:
            wait = None
    return min(MAX_RETRY_AFTER, max(0.0, wait if wait is not None else 1.0))


def translate(exc: BaseException, what: str) -> BrokerError:
    """The BrokerError for a failed call; `what` names the request for the message ("submit of O-1")."""
    if isinstance(exc, BrokerError):
        return exc
    if isinstance(exc, APIError):
        return _from_api_error(exc, what)
    if isinstance(exc, requests.Timeout):
        return BrokerTimeout(f"Alpaca did not answer {what} in time; its outcome is unknown.")
    if isinstance(exc, requests.ConnectionError):
        return BrokerUnavailable(f"Alpaca could not be reached for {what} ({type(exc).__name__}).")
    if isinstance(exc, ValueError):  # the body was not JSON (json.JSONDecodeError and friends)
        return MalformedMessage(f"Alpaca answered {what} with a body that is not JSON.")
    if isinstance(exc, requests.RequestException):
        return BrokerUnavailable(f"Alpaca request {what} failed ({type(exc).__name__}).")
    return BrokerError(f"Alpaca request {what} failed unexpectedly: {type(exc).__name__}: {exc}")


def _from_api_error(exc: APIError, what: str) -> BrokerError:
    status = exc.status_code
    code, message = vendor_reason(exc)
    where = f"(HTTP {status}" + (f", code {code})" if code else ")")
    if status == 401 or (status == 403 and code is None):
        # Alpaca answers bad keys with 401 {"code": 40110000} or a bare 403 {"message": "forbidden."};
        # a 403 that carries a reason code is an order refusal (e.g. 40310000 insufficient buying power).
        return BrokerAuthError(
            f"Alpaca refused the API key for {what}: {message} {where}; check APCA_API_KEY_ID and "
            "APCA_API_SECRET_KEY and that paper keys go to the paper endpoint.",
            status=status,
        )
    if status == 429:
        wait = retry_after(exc.response)
        return BrokerRateLimited(
            f"Alpaca rate limit hit on {what}: {message} {where}; retry in {wait:.1f}s.", retry_after=wait
        )
    if status is not None and 400 <= status < 500:
        return BrokerRejected(
            f"Alpaca refused {what}: {message} {where}.", code=code or f"HTTP_{status}", status=status
        )
    return BrokerUnavailable(
        f"Alpaca failed on {what}: {message} {where}; the outcome is unknown.", status=status
    )

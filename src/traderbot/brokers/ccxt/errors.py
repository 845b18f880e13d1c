"""ccxt exceptions -> our BrokerError family, with the exchange's own error code where it sent one.

| ccxt | ours |
| --- | --- |
| InsufficientFunds, InvalidOrder, BadRequest (BadSymbol), NotSupported, other ExchangeError | BrokerRejected |
| AuthenticationError (PermissionDenied, AccountSuspended) | BrokerAuthError |
| RateLimitExceeded, DDoSProtection (HTTP 429/418) | BrokerRateLimited (Retry-After honoured) |
| RequestTimeout | BrokerTimeout |
| ExchangeNotAvailable, NetworkError (5xx, refused, dropped) | BrokerUnavailable |
| BadResponse (unparseable answer) | MalformedMessage, or BrokerUnavailable where an order may have been placed |

OrderNotFound is handled by the callers (a lookup returns None). The vendor code (e.g. Binance "-2010") is read
from the JSON body ccxt received for this very request (`last_http_response`, checked against the message) or
from the JSON embedded in the message; otherwise the code names the ccxt class (e.g. INSUFFICIENT_FUNDS).
"""

from __future__ import annotations

import json
import re
from typing import Any

import ccxt

from traderbot.brokers.base import (
    BrokerAuthError,
    BrokerError,
    BrokerRateLimited,
    BrokerRejected,
    BrokerTimeout,
    BrokerUnavailable,
    MalformedMessage,
)

_JSON_IN_TEXT = re.compile(r"\{.*\}", re.DOTALL)
_CODE_KEYS = ("code", "error_code", "errorCode", "retCode", "err-code")
_MSG_KEYS = ("msg", "message", "error_message", "retMsg", "err-msg", "error")


def vendor_error(exc: BaseException, exchange: Any) -> tuple[str | None, str]:
    """(the exchange's error code, its message) for a ccxt exception; code None when the exchange sent none."""
    text = str(exc)
    body = _parse(getattr(exchange, "last_http_response", None))
    if isinstance(body, dict):
        msg = _first(body, _MSG_KEYS)
        if msg and msg in text:
            return _first(body, _CODE_KEYS), msg
    match = _JSON_IN_TEXT.search(text)
    if match:
        parsed = _parse(match.group(0))
        if isinstance(parsed, dict):
            return _first(parsed, _CODE_KEYS), _first(parsed, _MSG_KEYS) or text
    prefix = f"{getattr(exchange, 'id', '')} "
    return None, text[len(prefix) :] if text.startswith(prefix) else text


def _parse(text: Any) -> Any:
    if not isinstance(text, str) or not text.lstrip().startswith("{"):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _first(body: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = body.get(key)
        if value not in (None, "", {}):
            return str(value)
    return None


def _retry_after(exchange: Any) -> float:
    headers = getattr(exchange, "last_response_headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(float(value), 0.0)
            except ValueError:
                return 1.0
    return 1.0


def translate(exc: BaseException, exchange: Any, what: str, *, placing: bool = False) -> BrokerError:
    """One BrokerError for a failed ccxt call; `what` names the action ("submit of O-1 on BTC/USDT").

    `placing=True` for calls that may have created an order: an unparseable answer then means the outcome is
    unknown (BrokerUnavailable), never a rejection.
    """
    name = getattr(exchange, "id", "exchange")
    if isinstance(exc, BrokerError):
        return exc
    code, msg = vendor_error(exc, exchange)
    msg = msg.strip().rstrip(".")
    detail = f"{msg} ({code})" if code else msg
    if isinstance(exc, ccxt.AuthenticationError):
        return BrokerAuthError(
            f"{name} refused the credentials during {what}: {detail}; check the CCXT_{name.upper()}_* variables.",
            code=code or "AUTH",
        )
    if isinstance(exc, ccxt.DDoSProtection):  # includes RateLimitExceeded
        status = 418 if " 418 " in f" {exc} " else 429
        return BrokerRateLimited(
            f"{name} rate-limited {what}: {detail}.", retry_after=_retry_after(exchange), status=status
        )
    if isinstance(exc, ccxt.RequestTimeout):
        return BrokerTimeout(f"{name} did not answer {what} in time; the outcome is unknown.")
    if isinstance(exc, ccxt.InvalidNonce):  # the request was refused for its timestamp: nothing was executed
        return BrokerRejected(
            f"{name} refused {what}: {detail}; check the machine's clock.", code=code or "INVALID_NONCE"
        )
    if isinstance(exc, ccxt.NetworkError):
        return BrokerUnavailable(f"{name} is unavailable for {what}: {detail}; the outcome is unknown.")
    if isinstance(exc, ccxt.BadResponse):
        if placing:
            return BrokerUnavailable(f"{name} sent an unreadable answer to {what}; the outcome is unknown.")
        return MalformedMessage(f"{name} sent an unreadable answer to {what}: {msg}.")
    if isinstance(exc, ccxt.InsufficientFunds):
        return BrokerRejected(f"{name} refused {what}: {detail}.", code=code or "INSUFFICIENT_FUNDS")
    if isinstance(exc, ccxt.OrderNotFound):
        return BrokerRejected(
            f"{name} does not know the order in {what}: {detail}.", code=code or "ORDER_NOT_FOUND"
        )
    if isinstance(exc, ccxt.BaseError):
        return BrokerRejected(f"{name} refused {what}: {detail}.", code=code or type(exc).__name__.upper())
    if placing:  # a parsing failure inside ccxt after the exchange answered
        return BrokerUnavailable(
            f"{name} sent an unexpected answer to {what} ({exc!r}); the outcome is unknown."
        )
    return MalformedMessage(f"{name} sent an unexpected answer to {what}: {exc!r}.")

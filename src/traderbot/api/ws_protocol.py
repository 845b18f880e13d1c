"""The WebSocket protocol of /api/v1/ws (docs/api.md, "WebSocket"): what a client may send, the control frames
the server answers with, and the close codes.

Client -> server: `{"op": "auth", "token": ...}` (first message, unless `?token=` was given),
`{"op": "subscribe", "topics": [...]}`, `{"op": "unsubscribe", "topics": [...]}`, `{"op": "ping"}`.
Server -> client: data frames `{"topic", "ts", "type", "data"}` and control frames with an "op"
(ready, subscribed, unsubscribed, pong, error)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

TOPICS = ("prices", "orders", "fills", "positions", "trades", "pairs", "risk", "training", "logs")
OPS = ("auth", "subscribe", "unsubscribe", "ping")
MAX_MESSAGE_BYTES = 4096

POLICY_VIOLATION = 1008  # bad or missing credentials, a refused origin
TRY_AGAIN_LATER = 1013  # a slow consumer, or too many connections for a key
INTERNAL_ERROR = 1011


class ProtocolError(Exception):
    """A client message the server refuses; `code` is machine-readable, the text one sentence with the fix."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Request:
    op: str
    topics: tuple[str, ...] = ()
    token: str = ""


def _topics(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        raise ProtocolError(
            "invalid_request",
            "topics must be a non-empty list of topic names, e.g. "
            f'{{"op": "subscribe", "topics": ["orders"]}}; valid: {valid()}',
        )
    unknown = sorted({t for t in value if t not in TOPICS})
    if unknown:
        raise ProtocolError(
            "unknown_topic",
            f"unknown topic{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}: use {valid()}",
        )
    return tuple(dict.fromkeys(value))


def valid() -> str:
    return ", ".join(TOPICS)


def parse(text: str) -> Request:
    """One client message as a Request; ProtocolError names what is wrong and the fix."""
    if len(text.encode()) > MAX_MESSAGE_BYTES:
        raise ProtocolError(
            "message_too_large",
            f"the message is larger than {MAX_MESSAGE_BYTES} bytes: send one small JSON object per operation",
        )
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(
            "malformed_json",
            f'the message is not valid JSON ({exc}): send a JSON object such as {{"op": "ping"}}',
        ) from None
    if not isinstance(body, dict):
        raise ProtocolError(
            "invalid_request", 'the message must be a JSON object with an "op", such as {"op": "ping"}'
        )
    op = body.get("op")
    if op not in OPS:
        raise ProtocolError("unknown_op", f"unknown op {op!r}: use one of {', '.join(OPS)}")
    if op == "auth":
        token = body.get("token", body.get("key"))
        if not isinstance(token, str) or not token.strip():
            raise ProtocolError(
                "invalid_request", 'auth needs a token: {"op": "auth", "token": "<API key or token>"}'
            )
        return Request(op, token=token.strip())
    if op in ("subscribe", "unsubscribe"):
        return Request(op, _topics(body.get("topics")))
    return Request(op)


def control(op: str, **fields: Any) -> str:
    """A control frame's text (ts in UTC ns)."""
    return json.dumps({"op": op, "ts": time.time_ns(), **fields}, separators=(",", ":"))


def error(code: str, message: str) -> str:
    return control("error", code=code, message=message)


def close_reason(text: str) -> str:
    """A close frame's reason holds at most 123 bytes of UTF-8: cut on a character boundary."""
    raw = text.encode()
    return text if len(raw) <= 123 else raw[:120].decode(errors="ignore") + "..."

"""Real local servers for the alert tests: an HTTP receiver (webhook target and a fake Telegram Bot API that
checks the documented request shape) and an SMTP server (aiosmtpd), all on 127.0.0.1."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

TELEGRAM_PATH = re.compile(r"^/bot(?P<token>[^/]+)/sendMessage$")


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    """A threaded HTTP server. Webhook mode records every POST; Telegram mode answers like the Bot API:
    `POST /bot<token>/sendMessage` with chat_id and text (JSON or form) -> {"ok": true, "result": {...}}.
    `fail_first` requests get HTTP 500 (to prove retries)."""

    telegram_token: str | None = None
    fail_first: int = 0
    requests: list[Request] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.handle(self, raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def handle(self, h: BaseHTTPRequestHandler, raw: bytes) -> None:
        if self.fail_first > 0:
            self.fail_first -= 1
            return _answer(h, 500, {"error": "try again"})
        ctype = h.headers.get("Content-Type", "")
        if ctype.startswith("application/json"):
            body: Any = json.loads(raw)
        else:
            body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        headers = {k: v for k, v in h.headers.items()}
        if self.telegram_token is None:
            self.requests.append(Request(h.path, headers, body))
            return _answer(h, 200, {"received": True})
        m = TELEGRAM_PATH.match(h.path)
        if m is None:
            self.rejected.append(f"path {h.path}")
            return _answer(h, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
        if m["token"] != self.telegram_token:
            self.rejected.append("token")
            return _answer(h, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        if not isinstance(body, dict) or not body.get("chat_id") or not body.get("text"):
            self.rejected.append(f"body {body!r}")
            return _answer(h, 400, {"ok": False, "error_code": 400,
                                    "description": "Bad Request: chat_id and text are required"})  # fmt: skip
        self.requests.append(Request(h.path, headers, body))
        result = {"message_id": len(self.requests), "date": int(time.time()),
                  "chat": {"id": body["chat_id"]}, "text": body["text"]}  # fmt: skip
        _answer(h, 200, {"ok": True, "result": result})

    def bodies(self) -> list[Any]:
        return [r.body for r in self.requests]


def _answer(h: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
    data = json.dumps(payload).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1 (a free port); with `password`, AUTH LOGIN/PLAIN is required for `user`."""

    def __init__(self, user: str | None = None, password: str | None = None) -> None:
        self.inbox = _Inbox()
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if user is not None:
            kwargs = {"authenticator": self._auth, "auth_required": True, "auth_require_tls": False}
        self.user, self.password = user, password
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **kwargs)

    def _auth(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == (
            self.user, self.password)  # fmt: skip
        return AuthResult(success=ok, handled=False)

    @property
    def messages(self) -> list[tuple[str, list[str], Message]]:
        return self.inbox.messages

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Silent:
    """A TCP server that accepts connections and never answers (a hung notifier endpoint)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def close(self) -> None:
        self.sock.close()


def wait_for(cond: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.01)

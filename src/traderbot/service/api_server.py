"""The control-plane API served by the trading service itself (`traderbot run`), on the service's own loop.

The socket is bound before anything else starts, so a port in use is one clear sentence and a non-zero exit,
not a service trading without its API. uvicorn's own signal handling is left out: the service owns SIGINT and
SIGTERM and stops the server as part of its clean shutdown. On first start an admin key is created and printed
once (as `traderbot api` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn
from sqlalchemy import Engine

from traderbot.api.app import create_app
from traderbot.api.keys import ensure_admin_key
from traderbot.api.settings import ApiSettings
from traderbot.errors import UserError

if TYPE_CHECKING:
    from traderbot.service.service import TradingService

log = logging.getLogger("traderbot.service")


class _ServiceOwnedSignals(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the service handles SIGINT/SIGTERM and stops the server
        yield


class ApiServer:
    def __init__(self, engine: Engine, trader_id: str, host: str, port: int,
                 service: TradingService | None = None, settings: ApiSettings | None = None) -> None:  # fmt: skip
        self.engine, self.trader_id, self.host = engine, trader_id, host
        self._sock = _bind(host, port)
        self.port = int(self._sock.getsockname()[1])  # the real port when 0 asked for a free one
        # the [api] section's limits, on the address actually served (the command line's --host/--port win)
        settings = (settings or ApiSettings()).model_copy(update={"host": host, "port": self.port})
        app = create_app(engine, trader_id, settings=settings, service=service)
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self._server = _ServiceOwnedSignals(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def first_start_key(self) -> str | None:
        """An admin key when none exists yet (shown once), else None."""
        return ensure_admin_key(self.engine, self.trader_id)

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():  # failed while starting: say why
                self._task.result()
                raise UserError(f"the API on {self.url} stopped while starting")
            await asyncio.sleep(0.01)
        log.info("API on %s (docs at /docs)", self.url)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=5)
        self._sock.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only for sockets that say TCP;
    # without it every keep-alive answer (headers, then body) waited ~40 ms for the client's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot serve the API on {host}:{port} ({exc.strerror}): pass --port with a free port, "
                        "or --no-api") from None  # fmt: skip
    sock.listen(128)
    sock.set_inheritable(False)
    return sock

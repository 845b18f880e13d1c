"""Backpressure: a WebSocket client that never reads is dropped ("slow consumer", close 1013) while the kernel
keeps publishing; the publisher never waits, the client's queue never exceeds its bound, and a client that
does read, connected at the same time, receives everything."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

from tests.service_harness import run_service, until
from websockets.sync.client import connect

from traderbot.api.hub import SLOW_CONSUMER, Client
from traderbot.api.keys import KeyStore
from traderbot.api.ws import WsEndpoint
from traderbot.core.messages import OrderRejected
from traderbot.service.service import TradingService
from traderbot.service.settings import PairSpec, ServiceSettings

EVENTS = 4000
REASON = "VENUE_REJECTED: " + "x" * 2000  # about 2 KB a frame: the socket buffers fill sooner
BATCH = 20


class SilentClient:
    """A WebSocket client on a raw socket with a tiny receive buffer: it subscribes, then stops reading."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /api/v1/ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    def send(self, body: dict[str, Any]) -> None:
        data, mask = json.dumps(body).encode(), os.urandom(4)
        assert len(data) < 126
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(bytes([0x81, 0x80 | len(data)]) + mask + masked)

    def frames(self) -> list[tuple[int, bytes]]:
        """Read everything until the server's close frame: (opcode, payload) of each frame."""
        out: list[tuple[int, bytes]] = []
        while True:
            frame = self._frame()
            out.append(frame)
            if frame[0] == 0x8:
                return out

    def _need(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed without a close frame")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _frame(self) -> tuple[int, bytes]:
        b0, b1 = self._need(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._need(8))[0]
        return b0 & 0x0F, self._need(n)


def _endpoint(service: TradingService) -> WsEndpoint:
    assert service.api is not None
    endpoint: WsEndpoint = service.api._server.config.app.state.ws
    return endpoint


def test_a_client_that_never_reads_is_dropped_and_never_slows_the_kernel(tmp_path: Path) -> None:
    spec = PairSpec("EURUSD", "15m", "sma_cross", {"fast": 3, "slow": 8}, "units:1000")
    service = TradingService(ServiceSettings(data_dir=tmp_path / "state", pairs=(spec,), speed=60.0,
                                             serve_api=True, api_port=0))  # fmt: skip

    async def body() -> None:
        assert service.api is not None
        hub = _endpoint(service).hub
        _, key = KeyStore(service.engine, "TB").create("viewer", "screens")
        silent = await asyncio.to_thread(SilentClient, service.api.port, key)
        silent.send({"op": "subscribe", "topics": ["orders"]})
        await until(lambda: len(hub.clients) == 1 and hub.clients[0].topics == {"orders"}, 5, "subscribed")
        slow: Client = hub.clients[0]

        got: list[dict[str, Any]] = []
        ws_url = service.api.url.replace("http", "ws") + "/api/v1/ws"

        def read_everything() -> None:
            with connect(ws_url, additional_headers={}, open_timeout=10) as ws:
                ws.send(json.dumps({"op": "auth", "token": key}))
                ws.send(json.dumps({"op": "subscribe", "topics": ["orders"]}))
                while len([f for f in got if f.get("type") == "OrderRejected"]) < EVENTS:
                    got.append(json.loads(ws.recv(timeout=30)))

        reader = threading.Thread(target=read_everything)
        reader.start()
        await until(
            lambda: len(hub.clients) == 2 and all(c.topics for c in hub.clients), 10, "both subscribed"
        )

        bus, worst, peak = service.kernel.bus, 0.0, 0
        for i in range(EVENTS):
            t0 = time.perf_counter()
            bus.publish("orders", OrderRejected(f"O-{i}", "EURUSD", "S", i, REASON))
            worst = max(worst, time.perf_counter() - t0)
            peak = max(peak, len(slow.queue))
            if i % BATCH == BATCH - 1:
                await asyncio.sleep(0.002)  # the kernel's loop goes on: senders and other tasks run

        assert slow.dropped == SLOW_CONSUMER and hub.stats.dropped == 1
        assert peak <= hub.max_queue and slow.peak <= hub.max_queue and len(slow.queue) == 0  # bounded memory
        assert worst < 0.05, f"a publish took {worst * 1000:.1f} ms"  # never waits for a client
        await asyncio.to_thread(reader.join, 60)
        events = [f for f in got if f.get("type") == "OrderRejected"]
        assert [f["ts"] for f in events] == list(range(EVENTS))  # the reading client got every one, in order
        assert events[0]["data"]["client_order_id"] == "O-0" and events[0]["data"]["reason"] == REASON

        frames = await asyncio.to_thread(silent.frames)  # it reads at last: what was sent, then the close
        code, reason = struct.unpack("!H", frames[-1][1][:2])[0], frames[-1][1][2:].decode()
        assert (code, reason) == (1013, SLOW_CONSUMER)
        assert len(frames) - 1 < EVENTS  # far from everything reached it
        silent.sock.close()
        await until(lambda: not hub.clients, 10, "both connections ended")

    run_service(service, body)

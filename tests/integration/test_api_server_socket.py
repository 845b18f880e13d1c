"""The service's API socket: accepted connections have TCP_NODELAY, so a keep-alive answer (headers, then body)
is not held back by Nagle's algorithm until the client's delayed ACK (~40 ms a call before this was fixed)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from traderbot.service.api_server import ApiServer
from traderbot.store.db import open_engine


def test_accepted_connections_have_tcp_nodelay(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'api.db'}")

    async def main() -> list[int]:
        server = ApiServer(engine, "TB", "127.0.0.1", 0)
        await server.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            for _ in range(2):  # keep-alive: the second answer comes on the same connection
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
            connections = list(server._server.server_state.connections)
            flags = [
                c.transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                for c in connections  # type: ignore[attr-defined]
            ]
            writer.close()
            return flags
        finally:
            await server.stop()

    flags = asyncio.run(main())
    engine.dispose()
    assert flags and all(flags), flags

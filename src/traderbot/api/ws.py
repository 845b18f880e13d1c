"""/api/v1/ws: live topics over a WebSocket (protocol in ws_protocol.py, docs/api.md "WebSocket").

Authentication: `?token=<API key or token>` or a first message `{"op": "auth", "token": ...}` (browsers cannot
set headers on a WebSocket); any role may subscribe (viewer and up). Bad or missing credentials, or a page from
an origin the API does not allow, close the connection with 1008 (policy violation) and the reason, before any
data. Each connection has a bounded queue in the hub; one that falls `max_queue` frames behind (or cannot take
a frame for `send_timeout_s`) is closed with 1013 "slow consumer": the kernel never waits for a client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, WebSocket
from starlette.concurrency import run_in_threadpool

from traderbot.api import ws_protocol as proto
from traderbot.api.context import ApiContext, Principal
from traderbot.api.hub import SLOW_CONSUMER, Client, Hub
from traderbot.api.keys import CredentialError, WrongCredential
from traderbot.api.role import Role
from traderbot.api.ws_sources import WsSettings, build_sources

PATH = "/api/v1/ws"
log = logging.getLogger("traderbot.api.ws")
_GONE = "disconnected"


class Refused(Exception):
    def __init__(self, close_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.close_code, self.code = close_code, code


class WsEndpoint:
    """The WebSocket of one app: its hub (sources built at the first connection, on the serving loop)."""

    def __init__(self, ctx: ApiContext, settings: WsSettings | None = None) -> None:
        self.ctx, self.settings = ctx, settings or WsSettings()
        self.hub = Hub({}, self.settings.max_queue)
        self.unavailable: dict[str, str] = {}
        self._built = False

    async def serve(self, ws: WebSocket) -> None:
        await ws.accept()
        try:
            credential = await self._credential(ws)
            if credential is None:
                return  # gone before authenticating
            who = await self._authenticate(ws, credential)
        except Refused as why:
            await self._refuse(ws, why)
            return
        if not self._built:
            self.hub.sources, self.unavailable = build_sources(self.ctx, self.hub, self.settings)
            self._built = True
        client = self.hub.connect(f"{who.label} via {who.via}")
        receiver = asyncio.get_running_loop().create_task(self._receive(ws, client))
        try:
            self.hub.reply(
                client,
                proto.control(
                    "ready",
                    role=who.role.value,
                    who=who.label,
                    topics=list(proto.TOPICS),
                    unavailable=self.unavailable,
                ),
            )
            await self._send(ws, client, credential)
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiver
            self.hub.disconnect(client)

    # ---- authentication ----------------------------------------------------------------------------------
    def _origin_refusal(self, ws: WebSocket) -> str | None:
        """A browser page from another origin (not listed in the API's CORS origins) may not connect."""
        origin = ws.headers.get("origin")
        if not origin or origin in self.ctx.settings.cors_origins:
            return None
        if urlsplit(origin).netloc == ws.headers.get("host", ""):
            return None
        return (
            f"a page from {origin} may not open this WebSocket: serve it from this API, or list the origin in "
            "the API's allowed CORS origins"
        )

    async def _credential(self, ws: WebSocket) -> str | None:
        refusal = self._origin_refusal(ws)
        if refusal:
            raise Refused(proto.POLICY_VIOLATION, "forbidden_origin", refusal)
        token = ws.query_params.get("token")
        if token is not None:
            if not token.strip():
                raise Refused(
                    proto.POLICY_VIOLATION,
                    "unauthorized",
                    "the token query parameter is empty: connect with ?token=<API key or token>",
                )
            return token.strip()
        wait = self.settings.auth_timeout_s
        try:
            message = await asyncio.wait_for(ws.receive(), wait)
        except TimeoutError:
            raise Refused(
                proto.POLICY_VIOLATION,
                "unauthorized",
                f"no credentials within {wait:g} s: send "
                '{"op": "auth", "token": "<API key or token>"} first, or connect with ?token=',
            ) from None
        if message["type"] == "websocket.disconnect":
            return None
        try:
            request = proto.parse(_text(message))
        except proto.ProtocolError as exc:
            raise Refused(proto.POLICY_VIOLATION, exc.code, f"authenticate first: {exc}") from None
        if request.op != "auth":
            raise Refused(
                proto.POLICY_VIOLATION,
                "unauthorized",
                "authenticate first: the first message must be "
                '{"op": "auth", "token": "<API key or token>"} (or connect with ?token=)',
            )
        return request.token

    async def _authenticate(self, ws: WebSocket, credential: str) -> Principal:
        ctx = self.ctx
        subject = f"address:{ws.client.host if ws.client else 'unknown'}"
        locked = ctx.auth_failures.locked_for(subject)
        if locked > 0:
            raise Refused(
                proto.POLICY_VIOLATION,
                "too_many_failed_auth",
                f"too many failed authentications from "
                f"{subject.partition(':')[2]}: check the credentials and retry in {locked:.0f} s",
            )
        try:
            who = await run_in_threadpool(ctx.authenticate, credential)
        except CredentialError as exc:
            if isinstance(exc, WrongCredential):
                ctx.auth_failures.fail(subject)
            raise Refused(proto.POLICY_VIOLATION, "unauthorized", str(exc)) from None
        if not who.role.allows(Role.VIEWER):
            raise Refused(proto.POLICY_VIOLATION, "forbidden", f"{who.label} may not subscribe")
        wait = ctx.limiter.take(who.subject)
        if wait > 0:
            raise Refused(
                proto.TRY_AGAIN_LATER,
                "rate_limited",
                f"{who.label} made too many calls: retry in {wait:.2f} s",
            )
        return who

    async def _refuse(self, ws: WebSocket, why: Refused) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                ws.send_text(proto.error(why.code, str(why))), self.settings.send_timeout_s
            )
            await asyncio.wait_for(
                ws.close(why.close_code, proto.close_reason(str(why))), self.settings.send_timeout_s
            )

    async def _recheck(self, credential: str) -> str | None:
        """Why the credentials no longer hold (revoked key, expired token), else None."""
        try:
            await run_in_threadpool(self.ctx.authenticate, credential)
        except CredentialError as exc:
            return str(exc)
        return None

    # ---- the connection ----------------------------------------------------------------------------------
    async def _receive(self, ws: WebSocket, client: Client) -> None:
        hub = self.hub
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                client.drop(_GONE)
                return
            try:
                request = proto.parse(_text(message))
            except proto.ProtocolError as exc:
                hub.reply(client, proto.error(exc.code, str(exc)))
                continue
            if request.op == "ping":
                hub.reply(client, proto.control("pong"))
            elif request.op == "auth":
                hub.reply(
                    client,
                    proto.error(
                        "already_authenticated",
                        "this connection is already authenticated: open a new one to use other credentials",
                    ),
                )
            elif request.op == "subscribe":
                missing = {t: self.unavailable[t] for t in request.topics if t in self.unavailable}
                if missing:
                    hub.reply(client, proto.error("topic_unavailable", "; ".join(missing.values())))
                    continue
                hub.subscribe(client, request.topics)
                hub.reply(client, proto.control("subscribed", topics=sorted(client.topics)))
            else:
                hub.unsubscribe(client, request.topics)
                hub.reply(client, proto.control("unsubscribed", topics=sorted(client.topics)))

    async def _send(self, ws: WebSocket, client: Client, credential: str) -> None:
        s, loop = self.settings, asyncio.get_running_loop()
        next_check = loop.time() + s.recheck_s
        while True:
            if client.dropped is not None:
                if client.dropped == SLOW_CONSUMER:
                    log.info(
                        "WebSocket client %s dropped: slow consumer (%d frames behind)",
                        client.who,
                        client.max_queue,
                    )
                    await self._close(ws, proto.TRY_AGAIN_LATER, SLOW_CONSUMER)
                return
            if loop.time() >= next_check:
                problem = await self._recheck(credential)
                if problem is not None:
                    await self._refuse(ws, Refused(proto.POLICY_VIOLATION, "unauthorized", problem))
                    return
                next_check = loop.time() + s.recheck_s
            if not client.queue:
                client.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(client.wake.wait(), max(next_check - loop.time(), 0.0))
                continue
            frame = client.queue.popleft()
            try:
                text = frame.text
            except Exception:  # a message core.jsonable cannot encode: a bug, logged; the stream goes on
                log.exception(
                    "WebSocket: could not encode a %s frame; skipped", getattr(frame, "type", "control")
                )
                continue
            try:
                async with asyncio.timeout(s.send_timeout_s):
                    await ws.send_text(text)
            except TimeoutError:
                self.hub.drop(client, SLOW_CONSUMER)
                continue
            except Exception:  # the connection is gone
                return
            client.sent += 1
            if client.sent % 64 == 0:  # a write that does not block does not yield: let the kernel run
                await asyncio.sleep(0)

    async def _close(self, ws: WebSocket, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(code, reason), self.settings.send_timeout_s)


def _text(message: Mapping[str, Any]) -> str:
    text = message.get("text")
    if isinstance(text, str):
        return text
    raw = message.get("bytes")
    try:
        return raw.decode() if isinstance(raw, bytes) else ""
    except UnicodeDecodeError:
        return "\x00not utf-8"  # parse() answers that it is not JSON


def install_websocket(app: FastAPI, ctx: ApiContext, settings: WsSettings | None = None) -> WsEndpoint:
    """Serve /api/v1/ws on `app`; `app.state.ws` is the endpoint (its hub, its settings)."""
    endpoint = app.state.ws = WsEndpoint(ctx, settings)

    async def websocket(ws: WebSocket) -> None:
        endpoint: WsEndpoint = ws.app.state.ws
        await endpoint.serve(ws)

    app.add_api_websocket_route(PATH, websocket, name="ws")
    return endpoint


__all__ = ["PATH", "WsEndpoint", "WsSettings", "install_websocket"]

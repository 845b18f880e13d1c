"""/api/v1/ws served by a running paper service (`traderbot run`: uvicorn on the service's own loop, its
WebSocket implementation from the `websockets` package): a real client receives the kernel's prices, orders,
fills, positions and trades, the pair changes an operator makes through the REST API, and the risk events of
the kill switch engaged and re-armed through the API."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
from tests.service_harness import run_service, until
from websockets.asyncio.client import ClientConnection, connect

from traderbot.api.keys import KeyStore
from traderbot.service.service import TradingService
from traderbot.service.settings import PairSpec, ServiceSettings

ALL = ["prices", "orders", "fills", "positions", "trades", "pairs", "risk"]


def _service(tmp_path: Path) -> TradingService:
    spec = PairSpec("EURUSD", "15m", "sma_cross", {"fast": 3, "slow": 8}, "units:1000")
    return TradingService(ServiceSettings(data_dir=tmp_path / "state", pairs=(spec,), speed=20_000.0,
                                          serve_api=True, api_port=0))  # fmt: skip


async def _collect(ws: ClientConnection, into: list[dict[str, Any]]) -> None:
    with contextlib.suppress(Exception):
        async for text in ws:
            into.append(json.loads(text))


def _of(frames: list[dict[str, Any]], topic: str, type_: str | None = None) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("topic") == topic and (type_ is None or f["type"] == type_)]


def test_a_client_follows_a_running_service(tmp_path: Path) -> None:
    service = _service(tmp_path)

    async def body() -> None:
        assert service.api is not None
        base = service.api.url
        _, operator = KeyStore(service.engine, "TB").create("operator", "desk")
        frames: list[dict[str, Any]] = []
        async with connect(f"{base.replace('http', 'ws')}/api/v1/ws?token={operator}") as ws:
            ready = json.loads(await ws.recv())
            assert ready["op"] == "ready" and ready["unavailable"] == {}  # in-process: every topic
            await ws.send(json.dumps({"op": "subscribe", "topics": ALL}))
            assert json.loads(await ws.recv())["topics"] == sorted(ALL)
            reader = asyncio.create_task(_collect(ws, frames))
            await until(lambda: _of(frames, "fills") and _of(frames, "positions") and _of(frames, "trades"),
                        30, "fills, positions and trades")  # fmt: skip
            head = {"X-API-Key": operator}
            async with httpx.AsyncClient(base_url=base, headers=head, timeout=10) as http:
                r = await http.put("/api/v1/pairs/EURUSD/disable", json={"reason": "ws test"})
                assert r.status_code == 200, r.text
                await until(lambda: any(f["data"]["kind"] == "disabled" for f in _of(frames, "pairs")), 10,
                            "the pair's disable on the pairs topic")  # fmt: skip
                r = await http.post("/api/v1/risk/kill-switch", json={"reason": "drill", "flatten": True})
                assert r.status_code == 200, r.text
                r = await http.post("/api/v1/risk/rearm", json={"reason": "drill over"})
                assert r.status_code == 200, r.text
            await until(lambda: _of(frames, "risk", "KillSwitchRearmed"), 10, "the re-arm on the risk topic")
            reader.cancel()

        bars = _of(frames, "prices", "Bar")
        assert (
            bars
            and bars[0]["data"]["instrument_id"] == "EURUSD"
            and bars[0]["ts"] == bars[0]["data"]["ts_close"]
        )
        fill = _of(frames, "fills", "OrderFilled")[0]
        assert fill["data"]["instrument_id"] == "EURUSD" and isinstance(fill["data"]["price"], str)  # exact
        assert {"OrderSubmitted", "OrderAccepted"} <= {f["type"] for f in _of(frames, "orders")}
        assert isinstance(_of(frames, "positions", "PositionChanged")[0]["data"]["quantity"], str)
        moves = [(f["data"]["kind"], f["data"]["previous"], f["data"]["state"]) for f in _of(frames, "pairs")]
        assert moves == [("disabled", "trading", "ready")]  # disabling stopped it
        engaged = _of(frames, "risk", "KillSwitchEngaged")
        assert len(engaged) == 1 and engaged[0]["data"]["reason"] == "drill" and engaged[0]["data"]["flatten"]
        states = [(f["data"]["scope"], f["data"]["new"]) for f in _of(frames, "risk", "StateChange")]
        assert states == [("system", "halted"), ("system", "active")]
        # nobody listens any more: the hub's handlers have left the kernel's bus
        bus = service.kernel.bus
        ours = lambda: [h for hs in bus._subs.values() for h in hs if h.__qualname__.startswith("BusSource.")]  # noqa: E731
        await until(lambda: not ours(), 5, "the hub's bus handlers removed")

    run_service(service, body)

"""A standalone API (`traderbot api`, no service in its process) streams what another process writes to the
shared database: the event log (orders, fills, positions, risk), the pair registry's audit trail and the
training queue's progress. Here that other process is another EventLog, registry and training store on their
own engine; the API follows them through its WebSocket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import WebSocketTestSession
from tests.api_harness import Api, api_on

from traderbot.api.ws import WsEndpoint, WsSettings
from traderbot.api.ws_sources import Poller
from traderbot.core.bus import MessageBus
from traderbot.core.messages import OrderFilled, PositionChanged
from traderbot.pairs import PairRegistry
from traderbot.risk.states import StateChange, TradingState
from traderbot.store.db import open_engine
from traderbot.store.event_log import EventLog
from traderbot.store.training_store import TrainingStore
from traderbot.training.jobs import JobStatus

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    with api_on(f"sqlite:///{tmp_path / 'tb.db'}") as a:
        a.app.state.ws = WsEndpoint(a.app.state.api, WsSettings(tail_every_s=0.05, training_every_s=0.05))
        yield a


def _subscribed(api: Api, ws: WebSocketTestSession, topics: list[str]) -> None:
    assert ws.receive_json()["op"] == "ready"
    ws.send_json({"op": "subscribe", "topics": topics})
    assert ws.receive_json()["topics"] == sorted(topics)
    hub = api.app.state.ws.hub
    deadline = time.monotonic() + 10
    while not all(s.ready for t in topics if isinstance(s := hub.sources[t], Poller)):
        assert time.monotonic() < deadline, "the sources never started"
        time.sleep(0.01)


def _frames(ws: WebSocketTestSession, n: int) -> list[dict[str, Any]]:
    return [ws.receive_json() for _ in range(n)]


def test_the_event_log_another_process_writes_is_streamed(api: Api, tmp_path: Path) -> None:
    other = open_engine(f"sqlite:///{tmp_path / 'tb.db'}")  # the service's own connection
    bus = MessageBus()
    log = EventLog(other, "TB", bus)
    log.append("orders", OrderFilled("O-1", "EURUSD", "S", 1, trade_id="T1", side="buy",
                                     quantity=Decimal(1000), price=Decimal("1.10001")))  # fmt: skip
    log.flush()  # history before the client came: not replayed
    with api.client.websocket_connect(f"/api/v1/ws?token={api.viewer}") as ws:
        _subscribed(api, ws, ["fills", "positions", "risk"])
        bus.publish("orders", OrderFilled("O-2", "EURUSD", "S", 2))  # not subscribed: not sent
        fill = OrderFilled("O-3", "EURUSD", "S", 3, trade_id="T3", side="sell", quantity=Decimal(1000),
                           price=Decimal("1.10003"), commission=Decimal("0.02"), commission_currency="USD")  # fmt: skip
        bus.publish("fills", fill)
        bus.publish("positions", PositionChanged("EURUSD", "S", 3, Decimal(0), Decimal(0), Decimal("0.98")))
        bus.publish(
            "risk", StateChange("system", TradingState.ACTIVE, TradingState.HALTED, "ops", "drill", 4)
        )
        log.flush()
        got = _frames(ws, 3)
    assert [(f["topic"], f["type"], f["ts"]) for f in got] == [
        ("fills", "OrderFilled", 3), ("positions", "PositionChanged", 3), ("risk", "StateChange", 4)]  # fmt: skip
    assert got[0]["data"]["price"] == "1.10003" and got[0]["data"]["commission"] == "0.02"  # exact strings
    assert got[1]["data"]["realized_pnl"] == "0.98"
    assert got[2]["data"] == {"scope": "system", "old": "active", "new": "halted", "actor": "ops",
                              "reason": "drill", "ts": 4}  # fmt: skip
    other.dispose()


def test_pair_changes_and_training_progress_are_streamed(api: Api, tmp_path: Path) -> None:
    other = open_engine(f"sqlite:///{tmp_path / 'tb.db'}")
    registry, store = PairRegistry(other, "TB"), TrainingStore(other)
    with api.client.websocket_connect(f"/api/v1/ws?token={api.viewer}") as ws:
        _subscribed(api, ws, ["pairs", "training"])
        registry.add("GBPUSD", actor="cli", reason="new pair", timeframe="15m", strategy="sma_cross")
        registry.remove("GBPUSD", actor="cli", reason="changed my mind")
        pairs = _frames(ws, 2)
        assert [(f["topic"], f["type"], f["data"]["kind"], f["data"]["pair"]) for f in pairs] == [
            ("pairs", "PairEvent", "added", "GBPUSD"), ("pairs", "PairEvent", "removed", "GBPUSD")]  # fmt: skip
        assert pairs[0]["data"]["actor"] == "cli" and pairs[0]["data"]["state"] == "untrained"

        now = time.time_ns()
        job = store.enqueue(pair="EURUSD", kind="train", fn="x:y", payload={"secret": "no"}, priority=0,
                            timeout_s=60, max_attempts=1, now=now)  # fmt: skip
        queued = ws.receive_json()
        assert (queued["type"], queued["data"]["id"], queued["data"]["status"]) == (
            "TrainingJob",
            job.id,
            "queued",
        )
        assert "payload" not in queued["data"]
        running = store.claim_next("worker", now)
        assert running is not None
        assert ws.receive_json()["data"]["status"] == "running"
        store.set_progress(running, 0.5, "trial 5 of 10", 3.0, now)
        half = ws.receive_json()["data"]
        assert (half["progress"], half["message"]) == (0.5, "trial 5 of 10")
        assert store.finish(running, JobStatus.SUCCEEDED, now=now + 1, result={"params": {"fast": 3}})
        done = ws.receive_json()["data"]
        assert (done["status"], done["progress"], done["result"]) == (
            "succeeded",
            1.0,
            {"params": {"fast": 3}},
        )
    other.dispose()

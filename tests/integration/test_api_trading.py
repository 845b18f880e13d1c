"""The trading reads served by a running paper-trading service (`ctx.service`): answered from the kernel's
memory on the service's own loop, equal to it; the kill switch sent through the API shows in /risk/status; and
after the stop, `traderbot api` alone reads the same orders, positions and round trips from the database."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from tests.service_harness import until

from traderbot.api.app import create_app
from traderbot.api.keys import KeyStore
from traderbot.service.service import TradingService
from traderbot.service.settings import PairSpec, ServiceSettings
from traderbot.store.db import open_engine

SMA = {"fast": 5, "slow": 20}
PAIRS = tuple(
    PairSpec(p, "15m", "sma_cross", dict(SMA), "units:1000") for p in ("EURUSD", "GBPUSD", "EURGBP")
)


async def _get(client: httpx.AsyncClient, key: str, path: str) -> dict[str, Any]:
    r = await client.get("/api/v1" + path, headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _positions_of(service: TradingService) -> dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]]:
    return {(iid, sid): (p.quantity, p.avg_price, p.realized_pnl_quote)
            for (sid, iid), p in service.kernel.portfolio.positions.items() if p.quantity}  # fmt: skip


def test_a_running_service_answers_from_its_kernel_and_the_database_agrees_after_the_stop(
    tmp_path: Path,
) -> None:
    service = TradingService(ServiceSettings(data_dir=tmp_path / "state", pairs=PAIRS, speed=None,
                                             start="2019-05-25"))  # fmt: skip
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        task = asyncio.create_task(service.run())
        try:
            await asyncio.wait_for(service.started.wait(), 20)
            await until(lambda: service.feed.exhausted, 30, "the end of the replay")
            keys = KeyStore(service.engine, "TB")
            viewer, operator = keys.create("viewer", "v")[1], keys.create("operator", "desk")[1]
            app = create_app(service.engine, "TB", service=service)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
                await _while_running(c, viewer, operator, seen)
        finally:
            service.stop()
            await task

    asyncio.run(scenario())
    k = service.kernel
    assert k.kill_switch.engaged and _positions_of(service)  # engaged without flattening: positions stay
    engine = open_engine(f"sqlite:///{tmp_path / 'state' / 'traderbot.db'}")
    try:
        _stored_answers_agree(engine, service, seen)
    finally:
        engine.dispose()


async def _while_running(c: httpx.AsyncClient, viewer: str, operator: str, seen: dict[str, Any]) -> None:
    body = await _get(c, viewer, "/positions")
    assert body["source"] == "service" and body["currency"] == "USD"
    k = _kernel(c)
    portfolio, cache = k.portfolio, k.cache
    rows = {(p["pair"], p["strategy"]): p for p in body["positions"]}
    expected = {(iid, sid): p for (sid, iid), p in portfolio.positions.items() if p.quantity}
    assert set(rows) == set(expected) and len(rows) == 3  # every pair holds a position at the end
    total = Decimal(0)
    for key, pos in expected.items():
        row, mark = rows[key], cache.last_price(key[0])
        assert mark is not None and row["mark_source"] == "last_bar"
        rate = cache.rate(cache.instruments[key[0]].quote, "USD")
        assert rate is not None
        assert (Decimal(row["quantity"]), Decimal(row["avg_price"]), Decimal(row["mark"])) == (
            pos.quantity, pos.avg_price, mark)  # fmt: skip
        assert Decimal(row["unrealized_pnl"]) == pos.unrealized_quote(mark) * rate
        assert Decimal(row["exposure"]) == abs(pos.quantity) * mark * rate
        total += pos.unrealized_quote(mark) * rate
    assert Decimal(body["totals"]["unrealized_pnl"]) == total == portfolio.unrealized()
    seen["positions"] = body["positions"]

    every = await _get(c, viewer, "/orders?limit=1000")
    ids = [o["client_order_id"] for o in every["orders"]]
    assert ids == list(reversed(cache.orders))[:1000] and len(ids) == min(1000, len(cache.orders)) > 100
    first = every["orders"][0]
    order = cache.orders[first["client_order_id"]]
    assert (first["status"], Decimal(first["filled_qty"]), first["pair"]) == (
        order.status.value, order.filled_qty, order.instrument_id)  # fmt: skip
    eur = await _get(c, viewer, "/orders?pair=EURUSD&status=closed&limit=5")
    assert [o["client_order_id"] for o in eur["orders"]] == [
        o.client_order_id for o in reversed(cache.orders.values()) if o.instrument_id == "EURUSD"][:5]  # fmt: skip
    assert (await _get(c, viewer, "/orders?status=open"))["orders"] == []  # market orders: all done

    trades = await _get(c, viewer, "/trades?limit=3")
    last3 = list(reversed(portfolio.trades))[:3]
    assert [(t["pair"], Decimal(t["pnl"]), t["exit_ns"]) for t in trades["trades"]] == [
        (t.instrument_id, t.pnl, t.exit_ts) for t in last3]  # fmt: skip
    seen["trades"] = (await _get(c, viewer, "/trades?limit=1000"))["trades"]

    perf = await _get(c, viewer, "/trading/performance")
    assert Decimal(perf["equity"]) == portfolio.equity() and Decimal(perf["cash"]) == portfolio.balance
    assert Decimal(perf["realized_pnl"]) == sum(t.pnl for t in portfolio.trades)
    assert perf["trades"] == len(portfolio.trades) and perf["as_of_ns"] == cache.now_ns
    assert perf["equity_curve"]["points"][-1]["ts_ns"] == cache.now_ns
    assert all(p["ts_ns"] > 0 for p in perf["equity_curve"]["points"])  # no snapshot before the first bar
    assert Decimal(perf["starting_cash"]) == 100_000

    risk = await _get(c, viewer, "/risk/status")
    assert risk["source"] == "service" and risk["system_state"] == "active"
    assert risk["kill_switch"]["engaged"] is False and risk["exposure"]["open_positions"] == 3

    r = await c.post("/api/v1/risk/kill-switch", headers={"X-API-Key": operator},
                     json={"reason": "api test", "flatten": False})  # fmt: skip
    assert r.status_code == 200, r.text
    risk = await _get(c, viewer, "/risk/status")
    assert risk["system_state"] == "halted"
    kill = risk["kill_switch"]
    assert (kill["engaged"], kill["actor"], kill["reason"]) == (True, "api:desk", "api test")
    assert kill["changed_ns"] and kill["changed"]  # the state store's clock: the wall clock
    r = await c.post("/api/v1/risk/kill-switch", headers={"X-API-Key": viewer}, json={"reason": "x"})
    assert r.status_code == 403
    r = await c.get("/api/v1/orders?pair=NOSUCH", headers={"X-API-Key": viewer})
    assert r.status_code == 404 and "unknown pair NOSUCH" in r.json()["error"]["message"]


def _kernel(c: httpx.AsyncClient) -> Any:
    transport = c._transport
    assert isinstance(transport, httpx.ASGITransport)
    return transport.app.state.api.service.kernel  # type: ignore[attr-defined]


def _stored_answers_agree(engine: Any, service: TradingService, seen: dict[str, Any]) -> None:
    from fastapi.testclient import TestClient

    app = create_app(engine, "TB")
    viewer = KeyStore(engine, "TB").create("viewer", "after")[1]
    head = {"X-API-Key": viewer}
    with TestClient(app) as client:
        positions = client.get("/api/v1/positions", headers=head).json()
        assert positions["source"] == "database"
        stored = {
            (p["pair"], p["strategy"]): (
                Decimal(p["quantity"]),
                Decimal(p["avg_price"]),
                Decimal(p["realized_pnl_quote"]),
            )
            for p in positions["positions"]
        }
        assert stored == _positions_of(service)  # the positions table, synced by the service after fills
        assert [set(p) for p in positions["positions"]] == [set(p) for p in seen["positions"]]  # same shape
        orders = client.get("/api/v1/orders?limit=1000", headers=head).json()["orders"]
        kernel_orders = list(service.kernel.cache.orders.values())
        assert {o["client_order_id"]: o["status"] for o in orders} == {
            o.client_order_id: o.status.value for o in kernel_orders[-len(orders):]}  # fmt: skip
        assert client.get("/api/v1/trades?limit=1000", headers=head).json()["trades"] == seen["trades"]
        risk = client.get("/api/v1/risk/status", headers=head).json()
        assert risk["kill_switch"]["engaged"] is True and risk["kill_switch"]["actor"] == "api:desk"
        assert risk["system_state"] == "halted"

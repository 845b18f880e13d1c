"""Monitoring of a real paper service serving its own API (`traderbot run`'s wiring): /metrics after a replay
that traded matches the kernel's orders and fills, the latency histograms have observations, /readyz is 200
while it runs, and the health score names the kill switch and a locked pair. The dashboard's queries use only
metrics that /metrics exposes."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from traderbot.api.app import create_app
from traderbot.api.keys import KeyStore
from traderbot.model.enums import OrderStatus
from traderbot.service.service import TradingService
from traderbot.service.settings import PairSpec, ServiceSettings
from traderbot.store.db import open_engine

ROOT = Path(__file__).resolve().parents[2]
PAIRS = ("EURUSD", "GBPUSD")


@dataclass
class Run:
    metrics: str  # /metrics after the replay finished
    standalone_metrics: str  # /metrics of `traderbot api` on the same database, after the service stopped
    submitted: Counter[tuple[str, str]]  # the kernel's orders that passed risk, by (pair, side)
    fills: Counter[tuple[str, str]]
    realized: dict[str, Decimal]  # the kernel's closed trades, by pair
    ready: httpx.Response
    health_before: dict[str, Any]
    health_after: dict[str, Any]  # kill switch engaged, EURUSD locked
    metrics_after: str
    health_no_key: int


def _families(text: str) -> dict[str, Metric]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    raise AssertionError(f"no sample {name}{labels}")


def _by_pair_side(text: str, name: str) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.value:
                out[(s.labels["pair"], s.labels["side"])] += int(s.value)
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("monitoring")
    specs = tuple(PairSpec(p, "15m", "sma_cross", {"fast": 5, "slow": 20}, "units:1000") for p in PAIRS)
    settings = ServiceSettings(data_dir=tmp / "state", pairs=specs, speed=None, serve_api=True, api_port=0)
    service = TradingService(settings)
    out: dict[str, Any] = {}

    async def scenario() -> None:
        task = asyncio.create_task(service.run())
        try:
            await asyncio.wait_for(service.started.wait(), 20)
            while not service.feed.exhausted:  # the whole replay, as fast as possible
                await asyncio.sleep(0.05)
            keys = KeyStore(service.engine, "TB")
            viewer, operator = keys.create("viewer", "grafana")[1], keys.create("operator", "desk")[1]
            assert service.api is not None
            async with httpx.AsyncClient(base_url=service.api.url, timeout=10) as http:
                out["metrics"] = (await http.get("/metrics")).text
                k = service.kernel
                orders = [o for o in k.cache.orders.values() if o.status is not OrderStatus.DENIED]
                out["submitted"] = Counter((o.instrument_id, o.side.value) for o in orders)
                out["fills"] = Counter((f.instrument_id, f.side) for f in k.cache.fills)
                realized: dict[str, Decimal] = {}
                for t in k.portfolio.trades:
                    realized[t.instrument_id] = realized.get(t.instrument_id, Decimal(0)) + t.pnl
                out["realized"] = realized
                out["ready"] = await http.get("/readyz")
                out["health_no_key"] = (await http.get("/api/v1/system/health")).status_code
                view = {"X-API-Key": viewer}
                out["health_before"] = (await http.get("/api/v1/system/health", headers=view)).json()
                r = await http.post("/api/v1/risk/kill-switch", headers={"X-API-Key": operator},
                                    json={"reason": "monitoring test", "flatten": False})  # fmt: skip
                assert r.status_code == 200, r.text
                service.registry.mark_locked("EURUSD", "daily loss limit hit", actor="risk")
                out["health_after"] = (await http.get("/api/v1/system/health", headers=view)).json()
                out["metrics_after"] = (await http.get("/metrics")).text
        finally:
            service.stop()
            await task

    asyncio.run(scenario())
    engine = open_engine(f"sqlite:///{tmp / 'state' / 'traderbot.db'}")
    try:
        with TestClient(create_app(engine, "TB")) as client:
            out["standalone_metrics"] = client.get("/metrics").text
    finally:
        engine.dispose()
    return Run(**out)


def test_metrics_after_a_replay_match_the_kernels_orders_and_fills(run: Run) -> None:
    assert sum(run.submitted.values()) > 10 and sum(run.fills.values()) > 10, "the replay should have traded"
    assert {p for p, _ in run.submitted} == set(PAIRS)
    assert _by_pair_side(run.metrics, "traderbot_orders_submitted_total") == run.submitted
    assert _by_pair_side(run.metrics, "traderbot_fills_total") == run.fills


def test_latency_histograms_have_observations(run: Run) -> None:
    submitted = sum(run.submitted.values())
    to_order = _value(run.metrics, "traderbot_data_to_order_seconds_count")
    to_ack = _value(run.metrics, "traderbot_order_to_ack_seconds_count")
    assert 0 < to_order <= submitted  # the strategies' orders, sent while their bar was handled
    assert to_ack == submitted  # the simulated venue accepts every order at once
    assert _value(run.metrics, "traderbot_data_to_order_seconds_sum") > 0
    assert _value(run.metrics, "traderbot_order_to_ack_seconds_bucket", le="+Inf") == submitted


def test_gauges_report_pnl_pair_states_and_feed_lag(run: Run) -> None:
    for pair in PAIRS:
        realized = _value(run.metrics, "traderbot_pnl_realized", pair=pair)
        assert realized == pytest.approx(float(run.realized.get(pair, Decimal(0))), abs=1e-6)
        _value(run.metrics, "traderbot_pnl_unrealized", pair=pair)
        _value(run.metrics, "traderbot_exposure", pair=pair)
        assert _value(run.metrics, "traderbot_pair_state", pair=pair, state="trading") == 1
        assert _value(run.metrics, "traderbot_pair_state", pair=pair, state="paused") == 0
        assert _value(run.metrics, "traderbot_feed_lag_seconds", pair=pair) >= 0
    assert _value(run.metrics, "traderbot_service_running") == 1
    assert _value(run.metrics, "traderbot_kill_switch_engaged") == 0
    assert _value(run.metrics, "traderbot_training_jobs", status="waiting") == 0
    assert _value(run.metrics_after, "traderbot_kill_switch_engaged") == 1
    assert _value(run.metrics_after, "traderbot_pair_state", pair="EURUSD", state="paused") == 1


def test_readyz_is_200_with_every_check_while_the_service_runs(run: Run) -> None:
    assert run.ready.status_code == 200, run.ready.text
    body = run.ready.json()
    checks = {c["name"]: c for c in body["checks"]}
    assert body["status"] == "ready" and body["failing"] == []
    assert set(checks) == {"database", "service", "broker", "reconciliation", "feeds"}
    assert checks["broker"]["skipped"] and checks["reconciliation"]["skipped"]  # paper: nothing to check
    assert checks["feeds"]["detail"] == "the replay has finished"


def test_health_score_names_the_kill_switch_and_the_locked_pair(run: Run) -> None:
    assert run.health_no_key == 401
    assert run.health_before["score"] == 100 and run.health_before["reasons"] == []
    after = run.health_after
    reasons = {r["code"]: r for r in after["reasons"]}
    assert set(reasons) == {"kill_switch_engaged", "pairs_locked"}
    assert reasons["kill_switch_engaged"]["points"] == 40
    assert "monitoring test" in reasons["kill_switch_engaged"]["detail"]
    assert reasons["pairs_locked"]["points"] == 10
    assert "EURUSD (daily loss limit hit)" in reasons["pairs_locked"]["detail"]
    assert after["score"] == 50 and after["status"] == "critical"
    assert {c["name"] for c in after["checks"]} >= {"database", "service", "feeds"}


def test_standalone_metrics_count_the_stored_orders_and_fills(run: Run) -> None:
    text = run.standalone_metrics
    assert _by_pair_side(text, "traderbot_orders_submitted_total") == run.submitted
    assert _by_pair_side(text, "traderbot_fills_total") == run.fills
    assert _value(text, "traderbot_kill_switch_engaged") == 1  # as stored: it survives the service
    assert _value(text, "traderbot_pair_state", pair="EURUSD", state="paused") == 1
    assert "traderbot_data_to_order_seconds" not in _families(text)  # only the service measures latency


def _exposed(text: str) -> set[str]:
    """Every series name a query may use: family names with their sample suffixes, even when empty."""
    names: set[str] = set()
    for f in text_string_to_metric_families(text):
        names.add(f.name)
        names.update(s.name for s in f.samples)
        if f.type == "counter":
            names.add(f.name + "_total")
        elif f.type == "histogram":
            names.update(f.name + suffix for suffix in ("_bucket", "_count", "_sum"))
    return names


def test_every_metric_the_grafana_dashboard_queries_is_exposed(run: Run) -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "traderbot.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 20
    used = {m for e in exprs for m in re.findall(r"\btraderbot_[a-z0-9_]+", e)}
    missing = used - _exposed(run.metrics)
    assert not missing, f"the dashboard queries metrics /metrics does not expose: {sorted(missing)}"
    assert any("histogram_quantile" in e and "_data_to_order_seconds_bucket" in e for e in exprs)
    assert any("histogram_quantile" in e and "_order_to_ack_seconds_bucket" in e for e in exprs)

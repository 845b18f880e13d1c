"""/readyz answers 503 naming the failing checks: a database that is gone, a service that has not started, a
stalled feed; /metrics still answers (and says the database is unreachable). The health score's deductions
for each problem, from the same inputs."""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from traderbot.api.app import create_app
from traderbot.api.keys import KeyStore
from traderbot.kernel.kernel import Kernel
from traderbot.monitoring import snapshot as monitoring_snapshot
from traderbot.monitoring.db_state import DbState, FailedJob
from traderbot.monitoring.health import score
from traderbot.monitoring.metrics import ServiceMetrics, reason_code
from traderbot.monitoring.readiness import checks
from traderbot.monitoring.snapshot import LiveSnapshot, PairLive
from traderbot.service.service import TradingService
from traderbot.service.settings import PairSpec, ServiceSettings
from traderbot.store.db import open_engine

MONDAY_NOON = int(pd.Timestamp("2024-03-04 12:00", tz="UTC").value)  # FX market open
SATURDAY_NOON = int(pd.Timestamp("2024-03-09 12:00", tz="UTC").value)  # FX market closed


def _sample(text: str, name: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name:
                return float(s.value)
    raise AssertionError(f"no sample {name}")


def test_readyz_is_503_when_the_database_is_gone(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    engine = open_engine(f"sqlite:///{folder / 'traderbot.db'}")
    with TestClient(create_app(engine, "TB")) as client:
        ok = client.get("/readyz")
        assert ok.status_code == 200 and ok.json()["failing"] == [], ok.text
        engine.dispose()
        shutil.rmtree(folder)  # the database file and its folder are gone
        r = client.get("/readyz")
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["status"] == "not ready" and body["failing"] == ["database"]
        database = next(c for c in body["checks"] if c["name"] == "database")
        assert "unable to open database file" in database["detail"]
        m = client.get("/metrics")
        assert m.status_code == 200
        assert _sample(m.text, "traderbot_database_reachable") == 0
        assert _sample(m.text, "traderbot_up") == 1


def test_readyz_is_503_while_the_service_has_not_started(tmp_path: Path) -> None:
    spec = PairSpec("EURUSD", "15m", "sma_cross", {"fast": 5, "slow": 20}, "units:1000")
    service = TradingService(ServiceSettings(data_dir=tmp_path / "state", pairs=(spec,)))  # built, not run
    engine = open_engine(f"sqlite:///{tmp_path / 'api.db'}")
    try:
        with TestClient(create_app(engine, "TB", service=service)) as client:
            r = client.get("/readyz")
            assert r.status_code == 503, r.text
            assert r.json()["failing"] == ["service"]
            assert client.get("/metrics").status_code == 200
            _, viewer = KeyStore(engine, "TB").create("viewer", "probe")
            health = client.get("/api/v1/system/health", headers={"X-API-Key": viewer}).json()
            assert [(d["code"], d["points"]) for d in health["reasons"]] == [("service_not_running", 40)]
            assert health["score"] == 60 and health["status"] == "degraded"
    finally:
        engine.dispose()


def _snapshot(**changes: object) -> LiveSnapshot:
    pair = PairLive("EURUSD", 900.0, "fx", MONDAY_NOON - 900 * 10**9, 1.0, None, None)
    base = LiveSnapshot(mode="paper", started=True, stopping=False, now_ns=MONDAY_NOON, replay_speed=60.0,
                        replay_finished=False, kill_switch=False, equity=Decimal(100_000),
                        balance=Decimal(100_000), currency="USD", broker_connected=None, reconciled=None,
                        reconcile_detail="", errors_recent=0, pairs=(pair,))  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_stalled_feed_fails_readiness_only_while_its_market_is_open() -> None:
    fresh = _snapshot()
    assert all(c.ok for c in checks(None, fresh))
    stalled_pair = replace(fresh.pairs[0], arrival_age_s=600.0)  # 15m bars at 60x: one every 15 s
    stalled = replace(fresh, pairs=(stalled_pair,))
    feeds = next(c for c in checks(None, stalled) if c.name == "feeds")
    assert not feeds.ok and feeds.detail == "EURUSD: no bar for 600 s"
    weekend = replace(stalled, now_ns=SATURDAY_NOON)  # FX closed: no bars expected
    assert all(c.ok for c in checks(None, weekend))
    report = score(DbState(True), stalled, checks(None, stalled))
    assert [(d.code, d.points) for d in report.reasons] == [("feed_lag", 10)]
    assert report.score == 90 and report.status == "healthy"


def test_live_broker_and_reconciliation_failures_are_checks_and_deductions() -> None:
    snap = _snapshot(mode="live", broker_connected=False, reconciled=False,
                     reconcile_detail="reconciliation with oanda failed: BrokerError 503")  # fmt: skip
    found = {c.name: c for c in checks(None, snap)}
    assert not found["broker"].ok and not found["reconciliation"].ok
    assert found["reconciliation"].detail == "reconciliation with oanda failed: BrokerError 503"
    report = score(DbState(True), snap, list(found.values()))
    assert {d.code: d.points for d in report.reasons} == {"broker_disconnected": 30, "not_reconciled": 20}


def test_every_deduction_is_named_and_capped() -> None:
    bad_cache = replace(_snapshot().pairs[0], cache_valid=False, cache_score=40.0, cache_reasons=("stale",))
    snap = _snapshot(kill_switch=True, errors_recent=25, pairs=(bad_cache,))
    db = DbState(True, paused={f"P{i}": "loss limit" for i in range(5)},
                 failed_recent=(FailedJob(1, "EURUSD", "boom"), FailedJob(2, "GBPUSD", "boom")))  # fmt: skip
    report = score(db, snap, checks(None, snap))
    points = {d.code: d.points for d in report.reasons}
    assert points == {"kill_switch_engaged": 40, "pairs_locked": 30, "cache_invalid": 10,
                      "error_rate": 20, "training_failures": 10}  # fmt: skip
    assert report.score == 0 and report.status == "critical"
    detail = {d.code: d.detail for d in report.reasons}
    assert detail["cache_invalid"] == "market-data cache invalid for EURUSD (stale)"
    assert detail["pairs_locked"].startswith("5 pair(s) locked: P0 (loss limit)")
    assert "more" not in detail["pairs_locked"]
    gone = score(DbState(False, "OperationalError: unable to open database file"), None, [])
    assert gone.score == 0 and gone.reasons[0].code == "database_unreachable"


def test_an_api_on_another_loop_reads_the_service_on_the_kernels_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An app running on its own loop (here TestClient's thread) copies the service's state on the kernel's
    loop, not from its own thread."""
    spec = PairSpec("EURUSD", "15m", "sma_cross", {"fast": 5, "slow": 20}, "units:1000")
    service = TradingService(ServiceSettings(data_dir=tmp_path / "state", pairs=(spec,), speed=600.0))
    seen: list[int] = []
    original = monitoring_snapshot.take

    def spying_take(svc: TradingService) -> LiveSnapshot:
        seen.append(threading.get_ident())
        return original(svc)

    async def scenario() -> None:
        kernel_thread = threading.get_ident()
        task = asyncio.create_task(service.run())
        try:
            await asyncio.wait_for(service.started.wait(), 20)
            with TestClient(create_app(service.engine, "TB", service=service)) as client:
                metrics = await asyncio.to_thread(client.get, "/metrics")
                ready = await asyncio.to_thread(client.get, "/readyz")
            assert metrics.status_code == 200 and ready.status_code == 200, ready.text
            assert _sample(metrics.text, "traderbot_service_running") == 1
            assert seen and set(seen) == {kernel_thread}
        finally:
            service.stop()
            await task

    monkeypatch.setattr(monitoring_snapshot, "take", spying_take)  # records the thread, then the real take
    asyncio.run(scenario())


def test_error_log_records_are_counted_by_logger_until_the_metrics_close() -> None:
    kernel = Kernel()
    metrics = ServiceMetrics()
    metrics.attach(kernel)
    try:
        logging.getLogger("traderbot.service").error("could not write order updates")
        logging.getLogger("traderbot.service").warning("a warning is not an error")
        logging.getLogger("other.library").error("not ours")
        assert metrics.errors.count_since() == 1
        text = generate_latest(metrics.registry).decode()
        assert _labelled(text, "traderbot_log_errors_total", logger="traderbot.service") == 1
    finally:
        metrics.close()
    logging.getLogger("traderbot.service").error("after close")
    assert metrics.errors.count_since() == 1
    assert reason_code("MAX_NOTIONAL: notional=150000 USD") == "MAX_NOTIONAL"
    assert reason_code("the venue said no") == "OTHER"


def _labelled(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    raise AssertionError(f"no sample {name}{labels}")

"""POST /training/jobs/{id}/cancel and PUT /pairs/{pair}/start|stop: what `traderbot train cancel` and
`traderbot pairs start|stop` do, on a real database (a real trainer running a real worker; a real paper-trading
service following the registry); refused calls change nothing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from tests.api_harness import api_on, as_key, table_counts
from tests.recent_cache import write_recent
from tests.service_harness import until

from traderbot.api.app import create_app
from traderbot.api.keys import KeyStore
from traderbot.pairs import PairRegistry, PairState
from traderbot.service.service import TradingService
from traderbot.service.settings import PairSpec, ServiceSettings
from traderbot.store.training_store import TrainingStore
from traderbot.training.jobs import JobStatus

JOB_FN = "tests.training_jobs:ok"  # a real job function, run in a spawned worker process


def _trained(registry: PairRegistry, pair: str, *, enabled: bool = True) -> None:
    """What a training job leaves: an active parameter version and the pair ready."""
    registry.add(pair, actor="t", reason="t", strategy="sma_cross")
    version = registry.save_params(
        pair, "sma_cross", {"fast": 5, "slow": 20}, {"oos_quality": 0.6}, source="t"
    )
    registry.activate_params(pair, version, actor="t", reason="t")
    registry.transition(pair, PairState.TRAINING, actor="t", reason="t")
    registry.transition(pair, PairState.READY, actor="t", reason="t")
    if not enabled:
        registry.disable(pair, actor="t", reason="t")


@pytest.fixture
def recent_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user bar store whose EURUSD bars end now: the trading guard of a start validates the cache."""
    monkeypatch.setenv("TRADERBOT_DATA_DIR", str(tmp_path / "data"))
    return write_recent(tmp_path / "data" / "store")


def test_start_and_stop_move_the_pair_in_the_registry_and_refusals_change_nothing(
    any_db_url: str, recent_store: Path
) -> None:
    with api_on(any_db_url) as api:
        c, op, viewer = api.client, as_key(api.operator), as_key(api.viewer)
        registry = PairRegistry(api.engine, "TB")
        _trained(registry, "EURUSD", enabled=False)
        registry.add("GBPUSD", actor="t", reason="t", strategy="sma_cross")  # untrained
        before = table_counts(api.engine)
        refused = [
            (c.put("/api/v1/pairs/EURUSD/start", headers=viewer, json={"reason": "go"}), 403, "role"),
            (c.put("/api/v1/pairs/EURUSD/stop", headers=viewer, json={"reason": "x"}), 403, "role"),
            (c.put("/api/v1/pairs/NZDUSD/start", headers=op, json={"reason": "go"}), 404, "unknown pair NZDUSD"),
            (c.put("/api/v1/pairs/NZDUSD/stop", headers=op, json={"reason": "x"}), 404, "unknown pair NZDUSD"),
            (c.put("/api/v1/pairs/EURUSD/start", headers=op, json={}), 422, "reason"),
            (c.put("/api/v1/pairs/EURUSD/start", headers=op, json={"reason": ""}), 422, "reason"),
            (c.put("/api/v1/pairs/EURUSD/stop", headers=op, json={"reason": "go", "x": 1}), 422, "x"),
            (c.put("/api/v1/pairs/EURUSD/start", headers=op, json={"reason": "go"}), 409,
             "EURUSD cannot start trading: it is disabled"),
            (c.put("/api/v1/pairs/EURUSD/stop", headers=op, json={"reason": "x"}), 409,
             "EURUSD is ready, not trading, so there is nothing to stop: a ready pair is started with "
             "PUT /api/v1/pairs/EURUSD/start"),
            (c.put("/api/v1/pairs/GBPUSD/start", headers=op, json={"reason": "go"}), 409,
             "GBPUSD is untrained, not ready, so it cannot start: train it first (POST /api/v1/pairs/GBPUSD/train)"),
        ]  # fmt: skip
        for r, code, text in refused:
            assert r.status_code == code, r.text
            assert text in r.json()["error"]["message"], r.text
        assert table_counts(api.engine) == before

        assert c.put("/api/v1/pairs/EURUSD/enable", headers=op, json={"reason": "calm"}).status_code == 200
        started = c.put("/api/v1/pairs/eurusd/start", headers=op, json={"reason": "london open"})
        assert started.status_code == 200, started.text
        assert (started.json()["pair"], started.json()["state"]) == ("EURUSD", "trading")
        assert registry.get("EURUSD").state is PairState.TRADING  # what the running service follows
        again = c.put("/api/v1/pairs/EURUSD/start", headers=op, json={"reason": "again"})
        assert again.status_code == 409
        assert again.json()["error"]["message"] == (
            "EURUSD is trading, not ready, so it cannot start: it is already trading (stop it with "
            "PUT /api/v1/pairs/EURUSD/stop)"
        )
        stopped = c.put("/api/v1/pairs/EURUSD/stop", headers=op, json={"reason": "end of week"})
        assert stopped.status_code == 200 and stopped.json()["state"] == "ready"
        assert registry.get("EURUSD").state is PairState.READY
        moves = [(e.previous, e.state, e.actor, e.reason) for e in registry.history("EURUSD", 2)]
        assert moves == [
            (PairState.READY, PairState.TRADING, "api:operator-test", "london open"),
            (PairState.TRADING, PairState.READY, "api:operator-test", "end of week"),
        ]


def test_start_is_refused_while_the_pairs_cache_is_invalid(tmp_path: Path, recent_store: Path) -> None:
    with api_on(f"sqlite:///{tmp_path / 'tb.db'}") as api:
        registry = PairRegistry(api.engine, "TB")
        _trained(registry, "GBPUSD")  # no GBPUSD bars in the user store
        before = table_counts(api.engine)
        r = api.client.put("/api/v1/pairs/GBPUSD/start", headers=as_key(api.operator), json={"reason": "go"})
        assert r.status_code == 409
        assert r.json()["error"]["message"].startswith("GBPUSD cannot start trading:")
        assert "cache" in r.json()["error"]["message"].lower()
        assert table_counts(api.engine) == before and registry.get("GBPUSD").state is PairState.READY


def test_cancel_a_queued_job_and_bad_inputs_change_nothing(tmp_path: Path) -> None:
    # no trainer in this API: the job stays queued until canceled
    with api_on(f"sqlite:///{tmp_path / 'tb.db'}", train_workers=0) as api:
        c, op = api.client, as_key(api.operator)
        store = TrainingStore(api.engine)
        job = store.enqueue(pair="EURUSD", kind="train", fn=JOB_FN, payload={"steps": 1}, priority=0,
                            timeout_s=60, max_attempts=1, now=time.time_ns())  # fmt: skip
        url = f"/api/v1/training/jobs/{job.id}/cancel"
        refused = [
            (c.post(url, headers=as_key(api.viewer), json={"reason": "x"}), 403),
            (c.post("/api/v1/training/jobs/999/cancel", headers=op, json={"reason": "x"}), 404),
            (c.post("/api/v1/training/jobs/0/cancel", headers=op, json={"reason": "x"}), 422),
            (c.post("/api/v1/training/jobs/abc/cancel", headers=op, json={"reason": "x"}), 422),
            (c.post(url, headers=op, json={}), 422),
            (c.post(url, headers=op, json={"reason": "   "}), 422),
        ]
        for r, code in refused:
            assert r.status_code == code, r.text
        assert store.get(job.id) == job  # untouched
        r = c.post(url, headers=op, json={"reason": "wrong range"})
        assert r.status_code == 200, r.text
        assert (r.json()["job_id"], r.json()["was"], r.json()["job"]["status"]) == (
            job.id,
            "queued",
            "canceled",
        )
        after = store.get(job.id)
        assert after is not None and after.status is JobStatus.CANCELED
        assert after.error == "canceled: wrong range" and store.active("EURUSD") is None
        again = c.post(url, headers=op, json={"reason": "twice"})
        assert again.status_code == 409
        assert again.json()["error"]["message"] == (
            f"job {job.id} (EURUSD) already canceled: only a queued or running job can be canceled"
        )
        assert store.get(job.id) == after
        listed = c.get("/api/v1/training/jobs", headers=as_key(api.viewer)).json()
        assert [(j["id"], j["status"]) for j in listed["finished"]] == [(job.id, "canceled")]


def test_cancel_of_a_running_job_stops_its_worker(tmp_path: Path) -> None:
    with api_on(f"sqlite:///{tmp_path / 'tb.db'}", train_workers=1) as api:
        c, op = api.client, as_key(api.operator)
        registry = PairRegistry(api.engine, "TB")
        registry.add("EURUSD", actor="t", reason="t", strategy="sma_cross")
        store = TrainingStore(api.engine)
        # about 60 s of work if nothing stops it
        job = store.enqueue(pair="EURUSD", kind="train", fn=JOB_FN, payload={"steps": 600, "sleep": 0.1},
                            priority=0, timeout_s=600, max_attempts=1, now=time.time_ns())  # fmt: skip
        listed = c.get("/api/v1/training/jobs", headers=as_key(api.viewer)).json()  # starts the API's trainer
        assert listed["trainer"]["running"] is True
        deadline = time.monotonic() + 60
        while not ((j := store.get(job.id)) and j.status is JobStatus.RUNNING and j.progress > 0):
            assert time.monotonic() < deadline, "the job never ran"
            time.sleep(0.05)
        assert registry.get("EURUSD").state is PairState.TRAINING
        r = c.post(f"/api/v1/training/jobs/{job.id}/cancel", headers=op, json={"reason": "not now"})
        assert r.status_code == 200 and r.json()["was"] == "running", r.text
        assert r.json()["note"] == "its manager stops the worker within a few seconds"
        deadline = time.monotonic() + 20
        # the manager kills the worker and records the attempt as canceled; its hook puts the pair back
        while not [run for run in store.history("EURUSD") if run.status == "canceled"]:
            assert time.monotonic() < deadline, "the running attempt was never stopped"
            time.sleep(0.05)
        canceled = store.get(job.id)
        assert canceled is not None and canceled.status is JobStatus.CANCELED and canceled.progress < 0.5
        while registry.get("EURUSD").state is not PairState.UNTRAINED:
            assert time.monotonic() < deadline, "the pair stayed in training"
            time.sleep(0.05)
        progress = canceled.progress
        time.sleep(0.5)
        assert store.get(job.id).progress == progress  # type: ignore[union-attr]  # nothing reports any more


def test_stop_through_the_api_takes_the_pair_out_of_the_running_service(tmp_path: Path) -> None:
    pairs = tuple(
        PairSpec(p, "15m", "sma_cross", {"fast": 5, "slow": 20}, "units:1000") for p in ("EURUSD", "GBPUSD")
    )
    service = TradingService(ServiceSettings(data_dir=tmp_path / "state", pairs=pairs, speed=None,
                                             start="2019-05-25", poll_s=0.05))  # fmt: skip
    seen: dict[str, object] = {}

    async def scenario() -> None:
        task = asyncio.create_task(service.run())
        try:
            await asyncio.wait_for(service.started.wait(), 20)
            await until(lambda: set(service.host.running) == {"EURUSD", "GBPUSD"}, 10, "both pairs running")
            operator = KeyStore(service.engine, "TB").create("operator", "desk")[1]
            app = create_app(service.engine, "TB", service=service)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c:
                r = await c.put(
                    "/api/v1/pairs/EURUSD/stop", headers=as_key(operator), json={"reason": "news"}
                )
                assert r.status_code == 200 and r.json()["state"] == "ready", r.text
                await until(
                    lambda: "EURUSD" not in service.host.running, 10, "EURUSD leaving the running set"
                )
                seen["after_stop"] = set(service.host.running)
                await asyncio.sleep(0.3)  # several watcher polls: the service does not start it again
                seen["later"] = (set(service.host.running), service.registry.get("EURUSD").state)
        finally:
            service.stop()
            await task

    asyncio.run(scenario())
    assert seen == {"after_stop": {"GBPUSD"}, "later": ({"GBPUSD"}, PairState.READY)}

"""POST /pairs/{pair}/train queues a job exactly as `traderbot train` does and the API's trainer runs it in a
worker process: the queue shows it waiting or running with progress, then finished; the pair follows (training,
then failed with the gate's reasons on the small sample). Refusals change nothing."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from tests.api_harness import Api, api_on, as_key, table_counts

from traderbot.pairs import PairRegistry
from traderbot.pairs.lifecycle import PairState
from traderbot.store.training_models import TrainingJobRecord

QUICK = {"reason": "new week", "trials": 4, "train_weeks": 2, "objective": "sharpe"}


def _jobs(api: Api) -> int:
    with api.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(TrainingJobRecord)).scalar_one())


def _add(api: Api, pair: str, timeframe: str = "15m") -> None:
    r = api.client.post(
        "/api/v1/pairs",
        headers=as_key(api.operator),
        json={"pair": pair, "timeframe": timeframe, "strategy": "sma_cross", "reason": "t"},
    )
    assert r.status_code == 201, r.text


def test_bad_training_requests_are_refused_and_queue_nothing(any_db_url: str) -> None:
    with api_on(any_db_url, train_workers=0) as api:
        _add(api, "EURUSD")
        _add(api, "GBPUSD")
        reg = PairRegistry(api.engine, "TB")  # GBPUSD made to trade, as the service would after training
        version = reg.save_params("GBPUSD", "sma_cross", {"fast": 5, "slow": 20}, {}, source="test")
        reg.activate_params("GBPUSD", version, actor="test", reason="t")
        reg.transition("GBPUSD", PairState.TRAINING, actor="test", reason="t")
        reg.transition("GBPUSD", PairState.READY, actor="test", reason="t")
        reg.transition("GBPUSD", PairState.TRADING, actor="test", reason="t")
        before, c, op = table_counts(api.engine), api.client, as_key(api.operator)
        cases: list[tuple[str, dict[str, Any], int, str]] = [
            ("NOSUCH", QUICK, 404, "unknown pair NOSUCH: add it with POST /api/v1/pairs"),
            ("GBPUSD", QUICK, 409, "GBPUSD is trading: disable it first"),
            ("EURUSD", {**QUICK, "trials": "4"}, 422, "body.trials: Input should be a valid integer"),
            ("EURUSD", {**QUICK, "trials": 1}, 422, "body.trials: Input should be greater than or equal to 2"),
            ("EURUSD", {**QUICK, "objective": "luck"}, 422, "body.objective: Input should be 'sharpe'"),
            ("EURUSD", {**QUICK, "start": "yesterday-ish"}, 422, "start 'yesterday-ish' is not a date"),
            ("EURUSD", {**QUICK, "start": "2019-05-01", "end": "2019-04-01"}, 422, "end 2019-04-01 is not after start"),
            ("EURUSD", {**QUICK, "timeframe": "7q"}, 422, "cannot train EURUSD: "),
            ("EURUSD", {**QUICK, "timeframe": "1h"}, 422, "no 1h bars for EURUSD in the bar store"),
            ("EURUSD", {**QUICK, "space": {"nosuch": [1, 2]}}, 422, "names unknown parameter(s) nosuch"),
            ("EURUSD", {**QUICK, "space": {"fast": [30, 5]}}, 422, "low 30 is above high 5; swap them"),
            ("EURUSD", {**QUICK, "gate": {"max_luck": 1}}, 422, "unknown gate threshold(s) max_luck"),
            ("EURUSD", {"trials": 4}, 422, "body.reason: Field required"),
        ]  # fmt: skip
        for pair, body, status, text in cases:
            r = c.post(f"/api/v1/pairs/{pair}/train", headers=op, json=body)
            assert r.status_code == status, (pair, body, r.text)
            assert text in r.json()["error"]["message"], r.text
        assert c.post("/api/v1/pairs/EURUSD/train", headers=as_key(api.viewer), json=QUICK).status_code == 403
        assert table_counts(api.engine) == before and _jobs(api) == 0
        r = c.get("/api/v1/training/jobs?pair=NOSUCH", headers=as_key(api.viewer))
        assert r.status_code == 404


def test_a_pair_trains_through_the_api_and_the_queue_shows_it(tmp_path: object) -> None:
    with api_on(f"sqlite:///{tmp_path}/t.db", train_workers=1) as api:
        _add(api, "EURUSD")
        c, op, view = api.client, as_key(api.operator), as_key(api.viewer)
        r = c.post("/api/v1/pairs/EURUSD/train", headers=op, json=QUICK)
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        assert r.json()["job"]["status"] == "queued" and r.json()["trainer"] == "running in the API"
        again = c.post("/api/v1/pairs/EURUSD/train", headers=op, json=QUICK)
        assert again.status_code == 409 and f"already has a training job (job {job_id} is" in again.text
        seen: set[str] = set()
        progress = 0.0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            q = c.get("/api/v1/training/jobs?pair=eurusd", headers=view).json()
            seen |= {f"waiting:{j['id']}" for j in q["waiting"]} | {
                f"running:{j['id']}" for j in q["running"]
            }
            progress = max([progress, *(j["progress"] for j in q["running"])])
            assert all({"progress", "eta_s", "message"} <= set(j) for j in q["running"]), q["running"]
            if q["finished"]:
                break
            time.sleep(0.1)
        (done,) = q["finished"]
        assert done["id"] == job_id and done["status"] == "succeeded", done
        assert f"running:{job_id}" in seen and done["attempts"] == 1
        assert done["settings"]["trials"] == 4 and done["result"]["gate"]["passed"] is False
        # a 4-trial job may finish between two polls, so progress seen while running is not guaranteed: its
        # partial values (when seen) lie in [0, 1] and the finished job reads 1.0
        assert 0.0 <= progress <= 1.0 and done["progress"] == 1.0, (progress, done)
        time.sleep(0.3)  # the registry hook runs right after the job's final state is stored
        status = c.get("/api/v1/pairs/EURUSD/status", headers=view).json()
        assert status["state"] == "failed" and "promotion gate refused" in status["last_change"]["reason"]
        history = [e["to"] for e in c.get("/api/v1/pairs/EURUSD/history", headers=view).json()["events"]]
        assert history[-2:] == ["training", "failed"]

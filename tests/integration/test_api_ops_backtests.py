"""POST /backtests checks the request, answers 202 at once and runs the existing backtest runner in a worker
process; GET shows its status and metrics, /report its HTML report. Jobs are stored: a new API process shows
them, and a job whose API process died is marked failed. Bad requests change nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from tests.api_harness import Api, api_on, as_key

from traderbot.api.backtest_jobs import BacktestStore
from traderbot.store.backtest_models import BacktestJobRecord
from traderbot.store.db import open_engine

REQUEST = {"pair": "EURUSD", "timeframe": "15m", "strategy": "sma_cross", "params": {"fast": 5, "slow": 20},
           "start": "2019-03-01", "end": "2019-05-01", "spread_pips": "0.5", "cash": "10000"}  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]


def _count(api: Api) -> int:
    with api.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(BacktestJobRecord)).scalar_one())


def _wait(api: Api, job_id: int, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = api.client.get(f"/api/v1/backtests/{job_id}", headers=as_key(api.viewer)).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"backtest {job_id} did not finish within {timeout} s")


def test_a_backtest_runs_in_the_background_and_its_report_is_served(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    with api_on(url) as api:
        c, view = api.client, as_key(api.viewer)
        r = c.post("/api/v1/backtests", headers=as_key(api.operator), json=REQUEST)
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        assert r.headers["location"] == f"/api/v1/backtests/{job_id}"
        assert r.json() == {"id": job_id, "status": "queued", "links": {
            "self": f"/api/v1/backtests/{job_id}", "report": f"/api/v1/backtests/{job_id}/report"}}  # fmt: skip
        early = c.get(f"/api/v1/backtests/{job_id}/report", headers=view)  # the worker is still starting
        assert early.status_code == 409 and "a report exists once its status is succeeded" in early.text
        job = _wait(api, job_id)
        assert job["status"] == "succeeded", job
        s = job["summary"]
        assert s["strategy"] == "sma_cross" and s["pairs"] == ["EURUSD"] and s["params"]["fast"] == 5
        assert isinstance(s["final_equity_exact"], str) and s["trades"] > 0 and "sharpe" in s["metrics"]
        assert s["settings"]["spread_pips"] == "0.5" and job["request"]["start"] == "2019-03-01"
        report = c.get(job["links"]["report"], headers=view)
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
        assert "<title>sma_cross on EURUSD 15m</title>" in report.text
        listed = c.get("/api/v1/backtests", headers=view).json()["backtests"]
        assert [b["id"] for b in listed] == [job_id]
    with api_on(url) as api:  # another API process on the same database: the job and its report are kept
        again = api.client.get(f"/api/v1/backtests/{job_id}", headers=as_key(api.viewer)).json()
        assert again["status"] == "succeeded" and again["summary"] == s
        assert (
            api.client.get(f"/api/v1/backtests/{job_id}/report", headers=as_key(api.viewer)).text
            == report.text
        )


def test_bad_backtest_requests_are_refused_and_store_nothing(any_db_url: str) -> None:
    with api_on(any_db_url) as api:
        c, op = api.client, as_key(api.operator)
        cases: list[tuple[dict[str, Any], int, str]] = [
            ({**REQUEST, "strategy": "/tmp/evil.py"}, 422, "strategy '/tmp/evil.py' is not a built-in"),
            ({**REQUEST, "pair": "NOSUCH"}, 422, "unknown pair 'NOSUCH'"),
            ({**REQUEST, "timeframe": "7q"}, 422, "timeframe '7q' is not valid"),
            ({**REQUEST, "timeframe": "1h"}, 422, "EURUSD"),
            ({**REQUEST, "start": "not a date"}, 422, "start 'not a date' is not a date"),
            ({**REQUEST, "end": "2019-02-01"}, 422, "end is not after start"),
            ({**REQUEST, "params": {"fast": "abc"}}, 422, "parameter fast='abc' is not valid"),
            ({**REQUEST, "params": {"speed": 3}}, 422, "unknown parameter 'speed'"),
            ({**REQUEST, "params": {"fast": [1]}}, 422, "body.params.fast"),
            ({**REQUEST, "cash": "-5"}, 422, "body.cash: String should match pattern"),
            ({**REQUEST, "cash": 10000}, 422, "body.cash: Input should be a valid string"),
            ({**REQUEST, "sizing": "lots:3"}, 422, "sizing 'lots:3' is not valid"),
            ({**REQUEST, "data": "service"}, 409, 'data "service" needs the API served by `traderbot run`'),
            ({**REQUEST, "lots": 3}, 422, "body.lots: Extra inputs are not permitted"),
            ({k: v for k, v in REQUEST.items() if k != "pair"}, 422, "body.pair: Field required"),
        ]
        for body, status, text in cases:
            r = c.post("/api/v1/backtests", headers=op, json=body)
            assert r.status_code == status, (body, r.text)
            assert text in r.json()["error"]["message"], r.text
        assert c.post("/api/v1/backtests", headers=as_key(api.viewer), json=REQUEST).status_code == 403
        assert c.get("/api/v1/backtests/77", headers=as_key(api.viewer)).status_code == 404
        assert c.get("/api/v1/backtests/0", headers=as_key(api.viewer)).status_code == 422
        assert c.get("/api/v1/backtests/77/report", headers=as_key(api.viewer)).status_code == 404
        assert _count(api) == 0


DIES = """
import sys, time
from traderbot.api.backtest_jobs import BacktestRunner
from traderbot.api.backtest_work import check
from traderbot.store.db import open_engine
runner = BacktestRunner(open_engine(sys.argv[1]), "TB")
print(runner.submit(check(dict(REQ)), "doomed"), flush=True)
time.sleep(120)
"""


def test_a_backtest_whose_api_process_died_is_marked_failed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    full = {"data": "store", "sizing": "all_in", "commission_pct": "0", "account_currency": None, "reason": "",
            **REQUEST}  # fmt: skip
    code = DIES.replace("dict(REQ)", json.dumps(full).replace("null", "None"))
    proc = subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "src")})  # fmt: skip
    try:
        assert proc.stdout is not None
        job_id = int(proc.stdout.readline())
        engine = open_engine(url)
        store = BacktestStore(engine, "TB")
        deadline = time.monotonic() + 30
        while (job := store.get(job_id)) is None or job.status != "running":
            assert time.monotonic() < deadline, "the backtest never started"
            time.sleep(0.02)
        engine.dispose()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    with api_on(url) as api:  # the next API process: the job is failed, with why
        job_json = api.client.get(f"/api/v1/backtests/{job_id}", headers=as_key(api.viewer)).json()
        assert job_json["status"] == "failed" and job_json["finished"] is not None
        assert job_json["error"].startswith("interrupted: the API process running it stopped")
        r = api.client.get(f"/api/v1/backtests/{job_id}/report", headers=as_key(api.viewer))
        assert r.status_code == 409 and "failed (interrupted" in r.text

"""The same training manager on a (local) Ray cluster: a job succeeds with its progress seen, a crash fails with
the exception text, a hanging task is cancelled at its timeout; hooks once per outcome, nothing left running."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from traderbot.store.db import open_engine
from traderbot.store.training_store import TrainingStore
from traderbot.training.jobs import Job, JobStatus
from traderbot.training.manager import TrainingManager

JOBS = "tests.training_jobs"


class Recorder:
    def __init__(self) -> None:
        self.finals: dict[str, tuple[str, Any]] = {}
        self.started: list[str] = []

    def on_started(self, pair: str, job: Job) -> None:
        self.started.append(pair)

    def on_succeeded(self, pair: str, job: Job, result: dict[str, Any]) -> None:
        assert pair not in self.finals
        self.finals[pair] = ("succeeded", result)

    def on_failed(self, pair: str, job: Job, reason: str) -> None:
        assert pair not in self.finals
        self.finals[pair] = ("failed", reason)

    def on_canceled(self, pair: str, job: Job) -> None:
        assert pair not in self.finals
        self.finals[pair] = ("canceled", None)


@pytest.mark.timeout(180)
def test_ok_crash_and_hang_jobs_on_a_local_ray_cluster(tmp_path: Path) -> None:
    import ray

    engine = open_engine(f"sqlite:///{tmp_path / 'tb.db'}")
    hooks = Recorder()
    seen: list[Job] = []
    mgr = TrainingManager(engine, workers=2, ray_address="local", hooks=hooks, backoff_base_s=0.05,
                          progress_every_s=0.05, poll_s=0.02)  # fmt: skip
    with mgr:
        mgr.submit("EURUSD", f"{JOBS}:ok", {"steps": 4, "sleep": 0.3, "value": 7}, priority=2, max_attempts=1)
        mgr.submit("GBPUSD", f"{JOBS}:crash", {}, priority=1, max_attempts=2)
        mgr.submit("USDJPY", f"{JOBS}:hang", {}, timeout_s=8, max_attempts=1)
        mgr.run(progress=seen.append)
        assert ray.is_initialized()
    assert not ray.is_initialized(), "the manager shuts down the Ray instance it started"

    assert hooks.finals["EURUSD"][0] == "succeeded" and hooks.finals["EURUSD"][1]["value"] == 7
    kind, reason = hooks.finals["GBPUSD"]
    assert kind == "failed" and reason.startswith("ValueError: bad params") and "attempt 2 of 2" in reason
    kind, reason = hooks.finals["USDJPY"]
    assert kind == "failed" and "timed out after 8 s" in reason
    assert sorted(hooks.started) == ["EURUSD", "GBPUSD", "USDJPY"]
    partial = [j for j in seen if j.pair == "EURUSD" and j.status is JobStatus.RUNNING and 0 < j.progress < 1]
    assert partial and partial[-1].message.startswith("step"), "progress came back from the Ray task"

    store = TrainingStore(engine)
    assert store.running() == [] and store.waiting() == []
    assert [r.status for r in store.history("GBPUSD")] == ["failed", "failed"]
    assert [(r.status, r.out_of_sample) for r in store.history("EURUSD")] == [("succeeded", {"sharpe": 0.9})]

"""The training manager with real worker processes: priority order, parallel workers, timeouts, retries with
backoff, crashes, dying workers, cancellation, resume after a restart; and it never leaves a job running."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, update

from traderbot.store.db import open_engine
from traderbot.store.training_models import TrainingJobRecord
from traderbot.store.training_store import TrainingStore
from traderbot.training.jobs import Job, JobStatus
from traderbot.training.manager import TrainingManager

JOBS = "tests.training_jobs"


class Recorder:
    """Hooks as the pair registry receives them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int, Any]] = []

    def on_started(self, pair: str, job: Job) -> None:
        self.calls.append(("started", pair, job.id, None))

    def on_succeeded(self, pair: str, job: Job, result: dict[str, Any]) -> None:
        self.calls.append(("succeeded", pair, job.id, result))

    def on_failed(self, pair: str, job: Job, reason: str) -> None:
        self.calls.append(("failed", pair, job.id, reason))

    def on_canceled(self, pair: str, job: Job) -> None:
        self.calls.append(("canceled", pair, job.id, None))

    def finals(self) -> list[tuple[str, str, int, Any]]:
        return [c for c in self.calls if c[0] != "started"]


@pytest.fixture
def engine(any_db_url: str) -> Iterator[Engine]:
    """The queue on a SQLite file and on a fresh PostgreSQL database (see any_db_url in conftest)."""
    e = open_engine(any_db_url)
    yield e
    e.dispose()


def _manager(engine: Engine, hooks: Recorder, workers: int = 2, **kw: Any) -> TrainingManager:
    kw = {"backoff_base_s": 0.05, "progress_every_s": 0.05, "poll_s": 0.02, **kw}
    return TrainingManager(engine, workers=workers, hooks=hooks, **kw)


def _settled(engine: Engine, hooks: Recorder) -> dict[int, Job]:
    """Nothing is left running or waiting, and each job's final outcome reached the hooks exactly once."""
    store = TrainingStore(engine)
    assert store.running() == [] and store.waiting() == []
    with engine.connect() as conn:
        ids = list(
            conn.execute(
                TrainingJobRecord.__table__.select().with_only_columns(TrainingJobRecord.id)
            ).scalars()
        )
    jobs = {i: store.get(i) for i in ids}
    finals = hooks.finals()
    assert sorted(c[2] for c in finals) == sorted(ids), finals
    for kind, pair, job_id, _ in finals:
        job = jobs[job_id]
        assert job is not None and (job.status.value, job.pair) == (kind, pair)
    return {i: j for i, j in jobs.items() if j is not None}


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_jobs_run_by_priority_then_oldest_first(engine: Engine, tmp_path: Path) -> None:
    hooks, order = Recorder(), tmp_path / "order.txt"
    mgr = _manager(engine, hooks, workers=1)
    for name, priority in (("A", 0), ("B", 5), ("C", 0), ("D", 9)):
        mgr.submit(name, f"{JOBS}:ok", {"order": str(order), "name": name, "steps": 1}, priority=priority)
    mgr.run()
    assert order.read_text().split() == ["D", "B", "A", "C"]
    assert [c[1] for c in hooks.calls if c[0] == "started"] == ["D", "B", "A", "C"]
    assert all(j.status is JobStatus.SUCCEEDED for j in _settled(engine, hooks).values())


def test_two_workers_run_two_jobs_at_the_same_time(engine: Engine, tmp_path: Path) -> None:
    hooks = Recorder()
    mgr = _manager(engine, hooks, workers=2)
    for name, peer in (("EURUSD", "GBPUSD"), ("GBPUSD", "EURUSD")):
        mgr.submit(name, f"{JOBS}:rendezvous", {"dir": str(tmp_path), "name": name, "peers": [peer]})
    mgr.run()
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("EURUSD", "GBPUSD"))
    assert a["met"] and b["met"], "each job saw the other one start while it was running"
    assert a["start"] < b["end"] and b["start"] < a["end"], (a, b)
    assert {c[0] for c in hooks.finals()} == {"succeeded"}
    _settled(engine, hooks)


def test_a_hanging_job_is_killed_at_its_timeout_and_fails_after_the_last_attempt(
    engine: Engine, tmp_path: Path
) -> None:
    hooks, pidfile = Recorder(), tmp_path / "pids.txt"
    mgr = _manager(engine, hooks)
    job = mgr.submit("EURUSD", f"{JOBS}:hang", {"pidfile": str(pidfile)}, timeout_s=1.5, max_attempts=2)
    mgr.run()
    (final,) = hooks.finals()
    assert final[:3] == ("failed", "EURUSD", job.id)
    assert "timed out after 1.5 s" in final[3] and "attempt 2 of 2" in final[3]
    assert [(r.attempt, r.status) for r in mgr.history("EURUSD")] == [(1, "failed"), (2, "failed")]
    assert all("timed out after 1.5 s" in r.error for r in mgr.history("EURUSD"))
    pids = [int(p) for p in pidfile.read_text().split()]
    assert len(pids) == 2 and all(_gone(p) for p in pids)
    assert _settled(engine, hooks)[job.id].status is JobStatus.FAILED


def test_a_flaky_job_succeeds_on_its_second_attempt_after_the_backoff(engine: Engine, tmp_path: Path) -> None:
    hooks = Recorder()
    mgr = _manager(engine, hooks, backoff_base_s=0.4)
    job = mgr.submit("EURUSD", f"{JOBS}:flaky", {"counter": str(tmp_path / "n")}, max_attempts=3)
    mgr.run()
    first, second = mgr.history("EURUSD")
    assert (first.attempt, first.status, first.error) == (
        1,
        "failed",
        "RuntimeError: transient failure on attempt 1",
    )
    assert (second.attempt, second.status, second.result) == (2, "succeeded", {"value": 2})
    assert second.started_ns is not None and second.started_ns - first.finished_ns >= 0.4e9  # base x 2^0
    assert hooks.calls[0][:2] == ("started", "EURUSD") and hooks.finals() == [
        ("succeeded", "EURUSD", job.id, {"value": 2})]  # fmt: skip
    done = _settled(engine, hooks)[job.id]
    assert (done.status, done.attempts, done.progress) == (JobStatus.SUCCEEDED, 2, 1.0)


def test_a_crashing_job_fails_with_the_exception_text(engine: Engine) -> None:
    hooks = Recorder()
    mgr = _manager(engine, hooks)
    job = mgr.submit("GBPUSD", f"{JOBS}:crash", {}, max_attempts=2)
    mgr.run()
    ((kind, _, _, reason),) = hooks.finals()
    assert kind == "failed" and reason.startswith("ValueError: bad params")
    assert [(r.status, r.error) for r in mgr.history("GBPUSD")] == [
        ("failed", "ValueError: bad params"), ("failed", "ValueError: bad params (attempt 2 of 2)")]  # fmt: skip
    assert _settled(engine, hooks)[job.id].error == "ValueError: bad params (attempt 2 of 2)"


def test_a_job_refusing_its_input_fails_at_once_without_retries(engine: Engine) -> None:
    hooks = Recorder()
    mgr = _manager(engine, hooks)
    job = mgr.submit("EURJPY", f"{JOBS}:refuse", {}, max_attempts=3)
    mgr.run()
    ((kind, _, _, reason),) = hooks.finals()
    assert kind == "failed" and "no 1m data for EURJPY" in reason
    assert len(mgr.history("EURJPY")) == 1  # one attempt: bad input is not retried
    assert _settled(engine, hooks)[job.id].status is JobStatus.FAILED


def test_a_worker_that_exits_without_a_result_fails_with_its_exit_code(engine: Engine) -> None:
    hooks = Recorder()
    mgr = _manager(engine, hooks)
    mgr.submit("USDJPY", f"{JOBS}:die", {}, max_attempts=1)
    mgr.run()
    ((kind, _, _, reason),) = hooks.finals()
    assert kind == "failed" and "exited with code 3 without a result" in reason
    _settled(engine, hooks)


def test_a_queued_job_canceled_never_runs(engine: Engine, tmp_path: Path) -> None:
    hooks, order = Recorder(), tmp_path / "order.txt"
    mgr = _manager(engine, hooks)
    job = mgr.submit("EURUSD", f"{JOBS}:ok", {"order": str(order), "name": "EURUSD"})
    canceled = mgr.cancel("EURUSD", reason="superseded")
    assert (canceled.status, canceled.error) == (JobStatus.CANCELED, "canceled: superseded")
    mgr.run()
    assert not order.exists() and mgr.history("EURUSD") == []
    assert hooks.calls == [("canceled", "EURUSD", job.id, None)]
    _settled(engine, hooks)


@pytest.mark.parametrize("via", ["manager", "another process's store"])
def test_a_running_job_canceled_has_its_worker_killed(engine: Engine, tmp_path: Path, via: str) -> None:
    hooks, pidfile = Recorder(), tmp_path / "pids.txt"
    mgr = _manager(engine, hooks, heartbeat_s=0.2)
    job = mgr.submit("EURUSD", f"{JOBS}:hang", {"pidfile": str(pidfile)}, timeout_s=60)

    def on_progress(j: Job) -> None:
        if j.status is JobStatus.RUNNING and j.progress > 0 and not hooks.finals():
            if via == "manager":
                mgr.cancel(j.id, reason="operator stop")
            else:  # what `traderbot train cancel` does: only the database changes
                TrainingStore(engine).cancel("EURUSD", "operator stop", j.created_ns + 1)

    mgr.run(progress=on_progress)
    (pid,) = (int(p) for p in pidfile.read_text().split())
    assert _gone(pid)
    ((run),) = mgr.history("EURUSD")
    assert (run.status, run.error) == ("canceled", "canceled: operator stop")
    assert hooks.finals() == [("canceled", "EURUSD", job.id, None)]
    _settled(engine, hooks)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("owner", ["stale heartbeat", "dead pid"])
def test_a_job_left_running_by_a_killed_manager_resumes(engine: Engine, tmp_path: Path, owner: str) -> None:
    hooks, order = Recorder(), tmp_path / "order.txt"
    old = TrainingManager(engine)
    job = old.submit("EURUSD", f"{JOBS}:ok", {"order": str(order), "name": "EURUSD"})
    now = job.created_ns
    claimed = TrainingStore(engine).claim_next(old.owner, now)  # the old manager took it, then was killed
    assert claimed is not None
    left_by = (
        f"{socket.gethostname()}:{_dead_pid()}:killed" if owner == "dead pid" else "other-host:77:killed"
    )
    heartbeat = now if owner == "dead pid" else now - 3600 * 10**9
    with engine.begin() as conn:
        conn.execute(update(TrainingJobRecord).where(TrainingJobRecord.id == job.id)
                     .values(owner=left_by, heartbeat=heartbeat))  # fmt: skip
    mgr = _manager(engine, hooks)
    mgr.run()
    assert order.read_text().split() == ["EURUSD"]
    interrupted, done = mgr.history("EURUSD")
    assert (interrupted.status, interrupted.error, interrupted.attempt) == (
        "interrupted",
        "interrupted by restart",
        1,
    )
    assert (done.status, done.attempt) == ("succeeded", 1)
    assert [c[0] for c in hooks.calls] == ["started", "succeeded"]
    assert _settled(engine, hooks)[job.id].status is JobStatus.SUCCEEDED


def test_stopping_the_manager_puts_running_jobs_back_in_the_queue(engine: Engine, tmp_path: Path) -> None:
    hooks, pidfile = Recorder(), tmp_path / "pids.txt"
    mgr = _manager(engine, hooks)
    job = mgr.submit("EURUSD", f"{JOBS}:hang", {"pidfile": str(pidfile)}, timeout_s=60)
    mgr.run(progress=lambda j: mgr.stop() if j.progress > 0 else None)
    (pid,) = (int(p) for p in pidfile.read_text().split())
    assert _gone(pid)
    store = TrainingStore(engine)
    (waiting,) = store.waiting()
    assert (waiting.id, waiting.status, waiting.attempts) == (job.id, JobStatus.QUEUED, 0)
    assert store.running() == [] and hooks.finals() == []
    assert [r.status for r in mgr.history("EURUSD")] == ["interrupted"]

"""The training queue in the database: claim order, atomic claims, the one-active-job-per-pair rule,
cancellation, run rows, hook delivery claims, recovery decisions, and how a job's failure is worded."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, update

from traderbot.errors import UserError
from traderbot.store.db import open_engine
from traderbot.store.training_models import TrainingJobRecord
from traderbot.store.training_store import TrainingStore
from traderbot.training.jobs import JobStatus, check_fn, execute
from traderbot.training.manager import TrainingManager

NOW = 1_700_000_000_000_000_000
S = 1_000_000_000
OK = "tests.training_jobs:ok"


@pytest.fixture
def engine(any_db_url: str) -> Iterator[Engine]:
    """The queue on a SQLite file and on a fresh PostgreSQL database (see any_db_url in conftest)."""
    e = open_engine(any_db_url)
    yield e
    e.dispose()


def _submit(store: TrainingStore, pair: str, *, priority: int = 0, now: int = NOW, attempts: int = 3) -> int:
    job = store.enqueue(pair=pair, kind="train", fn=OK, payload={"pair": pair}, priority=priority,
                        timeout_s=60, max_attempts=attempts, now=now)  # fmt: skip
    return job.id


def test_claim_takes_the_highest_priority_then_the_oldest(engine: Engine) -> None:
    store = TrainingStore(engine)
    _submit(store, "A", priority=0, now=NOW)
    _submit(store, "B", priority=5, now=NOW + 1)
    _submit(store, "C", priority=0, now=NOW + 2)
    _submit(store, "D", priority=9, now=NOW + 3)
    assert [j.pair for j in store.waiting()] == ["D", "B", "A", "C"]
    claimed = [store.claim_next("me", NOW + 10) for _ in range(5)]
    assert [j.pair if j else None for j in claimed] == ["D", "B", "A", "C", None]
    first = claimed[0]
    assert first is not None
    assert (first.status, first.attempts, first.owner, first.started_ns) == (
        JobStatus.RUNNING,
        1,
        "me",
        NOW + 10,
    )


def test_a_job_is_claimed_by_exactly_one_owner(engine: Engine) -> None:
    store, other = TrainingStore(engine), TrainingStore(engine)
    _submit(store, "EURUSD")
    _submit(store, "GBPUSD")
    a, b = store.claim_next("manager-a", NOW), other.claim_next("manager-b", NOW)
    assert a is not None and b is not None and a.id != b.id
    assert store.claim_next("manager-c", NOW) is None
    assert {j.owner for j in store.running()} == {"manager-a", "manager-b"}


def test_a_job_waiting_to_retry_is_not_claimed_before_its_time(engine: Engine) -> None:
    store = TrainingStore(engine)
    _submit(store, "EURUSD")
    job = store.claim_next("me", NOW)
    assert job is not None
    assert store.finish(job, JobStatus.RETRY_WAIT, now=NOW + S, error="boom", retry_at=NOW + 3 * S)
    assert store.claim_next("me", NOW + 2 * S) is None
    again = store.claim_next("me", NOW + 3 * S)
    assert again is not None and again.attempts == 2 and again.error == "boom"
    (run,) = store.history("EURUSD")
    assert (run.attempt, run.status, run.error, run.duration_s) == (1, "failed", "boom", 1.0)


def test_a_second_active_job_for_a_pair_is_refused_until_the_first_ends(engine: Engine) -> None:
    store = TrainingStore(engine)
    _submit(store, "EURUSD")
    with pytest.raises(UserError, match=r"EURUSD already has a training job \(job 1 is queued\).*cancel"):
        _submit(store, "EURUSD")
    job = store.claim_next("me", NOW)
    assert job is not None
    assert store.finish(job, JobStatus.SUCCEEDED, now=NOW + S, result={"value": 1})
    second = _submit(store, "EURUSD")  # a new job (PostgreSQL's sequence skips the refused insert's id)
    active = store.active("EURUSD")
    assert second > job.id and active is not None and active.id == second


def test_cancel_by_pair_or_id_and_its_errors(engine: Engine) -> None:
    store = TrainingStore(engine)
    _submit(store, "EURUSD")
    _submit(store, "GBPUSD")
    before, after = store.cancel("EURUSD", "not needed", NOW + S)
    assert (before.status, after.status, after.error) == (
        JobStatus.QUEUED,
        JobStatus.CANCELED,
        "canceled: not needed",
    )
    assert store.cancel(2, "later", NOW)[1].status is JobStatus.CANCELED
    with pytest.raises(UserError, match="already canceled"):
        store.cancel(2, "again", NOW)
    with pytest.raises(UserError, match="no job 99"):
        store.cancel(99, "x", NOW)
    with pytest.raises(UserError, match="there is no active training job for USDJPY"):
        store.cancel("USDJPY", "x", NOW)
    assert store.waiting() == []


def test_finishing_a_job_canceled_meanwhile_writes_nothing(engine: Engine) -> None:
    store = TrainingStore(engine)
    _submit(store, "EURUSD")
    job = store.claim_next("me", NOW)
    assert job is not None
    store.cancel(job.id, "operator", NOW + S)
    assert not store.finish(job, JobStatus.SUCCEEDED, now=NOW + 2 * S, result={"value": 1})
    assert not store.set_progress(job, 0.5, "half", 1.0, NOW + 2 * S)
    stored = store.get(job.id)
    assert stored is not None and stored.status is JobStatus.CANCELED and stored.result is None
    assert store.history("EURUSD") == []


def test_a_run_row_keeps_params_and_both_sample_metrics(engine: Engine) -> None:
    store = TrainingStore(engine)
    _submit(store, "EURUSD")
    job = store.claim_next("me", NOW)
    assert job is not None
    result = {"params": {"fast": 10}, "in_sample": {"sharpe": 2.0}, "out_of_sample": {"sharpe": 0.7}, "x": 1}
    assert store.finish(job, JobStatus.SUCCEEDED, now=NOW + 4 * S, result=result)
    (run,) = store.history("EURUSD")
    assert (run.params, run.in_sample, run.out_of_sample, run.result) == (
        {"fast": 10}, {"sharpe": 2.0}, {"sharpe": 0.7}, result)  # fmt: skip
    assert (run.status, run.duration_s) == ("succeeded", 4.0)
    assert store.get(job.id) == store.get(job.id) and store.active("EURUSD") is None


def test_a_final_outcome_is_claimed_for_its_hook_only_once(engine: Engine) -> None:
    store = TrainingStore(engine)
    _submit(store, "EURUSD")
    _submit(store, "GBPUSD")
    assert not store.claim_notification(1)  # still queued: no outcome yet
    store.cancel(1, "x", NOW)
    assert [j.id for j in store.unnotified()] == [1]
    assert store.claim_notification(1)
    assert not TrainingStore(engine).claim_notification(1)
    assert store.unnotified() == []


def _make_running(engine: Engine, job_id: int, owner: str, heartbeat: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(TrainingJobRecord)
            .where(TrainingJobRecord.id == job_id)
            .values(status="running", owner=owner, heartbeat=heartbeat, attempts=1, started=heartbeat)
        )


def test_recover_requeues_only_jobs_whose_manager_is_gone(engine: Engine) -> None:
    store = TrainingStore(engine)
    for pair in ("LIVE", "STALE", "DEADPID", "THISPROC"):
        _submit(store, pair)
    host = socket.gethostname()
    _make_running(engine, 1, "other-host:1234:live", NOW)  # fresh heartbeat, another machine: alive
    _make_running(engine, 2, "other-host:1234:stale", NOW - 60 * S)
    _make_running(engine, 3, f"{host}:{_dead_pid()}:gone", NOW)
    _make_running(engine, 4, f"{host}:{os.getpid()}:restarted", NOW)  # this pid, but no such manager now
    mgr = TrainingManager(engine, now_ns=lambda: NOW + S, stale_after_s=10)
    assert sorted(j.pair for j in mgr.recover()) == ["DEADPID", "STALE", "THISPROC"]
    assert [j.pair for j in store.running()] == ["LIVE"]
    waiting = {j.pair: j for j in store.waiting()}
    assert all(j.attempts == 0 and j.owner == "" for j in waiting.values())
    (run,) = store.history("STALE")
    assert (run.status, run.error) == ("interrupted", "interrupted by restart")


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_submit_refuses_a_function_that_is_not_module_colon_name(engine: Engine) -> None:
    mgr = TrainingManager(engine)
    for bad in ("tests.training_jobs.ok", "tests.training_jobs:", ":ok", "tests training:ok"):
        with pytest.raises(UserError, match="is not 'module:function'"):
            mgr.submit("EURUSD", bad, {})
    with pytest.raises(UserError, match="JSON-able"):
        mgr.submit("EURUSD", OK, {"when": object()})
    assert check_fn("traderbot.training.pipeline:train_pair") == "traderbot.training.pipeline:train_pair"
    assert TrainingStore(engine).waiting() == []


def test_a_job_error_is_the_last_traceback_line_with_its_type() -> None:
    seen: list[tuple[float, str]] = []
    out = execute("tests.training_jobs:crash", {}, lambda p, m: seen.append((p, m)))
    assert (out["error"], out["type"], seen) == (
        "ValueError: bad params",
        "ValueError",
        [(0.1, "about to fail")],
    )
    assert "training_jobs.py" in out["traceback"]
    assert execute("tests.training_jobs:not_a_dict", {}, lambda p, m: None)["error"] == (
        "TypeError: job function tests.training_jobs:not_a_dict returned list, expected a dict"
    )
    assert execute("tests.training_jobs:nope", {}, lambda p, m: None)["error"] == (
        "AttributeError: tests.training_jobs has no function 'nope'"
    )
    assert execute(OK, {"steps": 1, "sleep": 0}, lambda p, m: None)["ok"]["value"] == 1

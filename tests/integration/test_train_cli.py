"""`traderbot train status | cancel | history` against a database a training manager wrote: the queue in run
order, a running job's progress and ETA, recent failures with their reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from traderbot.cli.train import app
from traderbot.errors import UserError
from traderbot.store.db import open_engine
from traderbot.store.training_store import TrainingStore
from traderbot.training.jobs import JobStatus
from traderbot.training.manager import TrainingManager

JOBS = "tests.training_jobs"


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A failed job (EURUSD), a running one (USDJPY, 40 %), and two queued (GBPUSD before AUDUSD)."""
    url = f"sqlite:///{tmp_path / 'tb.db'}"
    engine = open_engine(url)
    mgr = TrainingManager(engine, backoff_base_s=0.01)
    mgr.submit("EURUSD", f"{JOBS}:crash", {}, max_attempts=1)
    mgr.run()
    store = TrainingStore(engine)
    mgr.submit("USDJPY", f"{JOBS}:ok", {}, priority=9)
    running = store.claim_next("other-host:4242:abc", mgr.now_ns())
    assert running is not None and running.pair == "USDJPY"
    assert store.set_progress(running, 0.4, "fold 2 of 5", 75.0, mgr.now_ns())
    mgr.submit("AUDUSD", f"{JOBS}:ok", {}, priority=0)
    mgr.submit("GBPUSD", f"{JOBS}:ok", {}, priority=5)
    return url


def _invoke(*args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output, result.exception


def test_status_json_shows_queued_running_and_failed_jobs(db: str) -> None:
    code, out, exc = _invoke("status", "--db", db, "--json")
    assert code == 0, (out, exc)
    st = json.loads(out)
    assert [(j["pair"], j["status"]) for j in st["queued"]] == [("GBPUSD", "queued"), ("AUDUSD", "queued")]
    ((run),) = st["running"]
    assert (run["pair"], run["progress"], run["eta_s"], run["message"]) == (
        "USDJPY",
        0.4,
        75.0,
        "fold 2 of 5",
    )
    ((fail),) = st["failures"]
    assert (fail["pair"], fail["status"]) == ("EURUSD", "failed")
    assert fail["error"].startswith("ValueError: bad params")


def test_status_tables_show_progress_eta_and_reasons(db: str) -> None:
    code, out, exc = _invoke("status", "--db", db)
    assert code == 0, (out, exc)
    for text in ("queue: 2 waiting", "GBPUSD", "running: 1", "USDJPY", "40%", "1m15s", "fold 2 of 5",
                 "recent failures: 1", "ValueError: bad params"):  # fmt: skip
        assert text in out, text
    assert out.index("GBPUSD") < out.index("AUDUSD")


def test_cancel_by_pair_or_id_and_the_history(db: str) -> None:
    code, out, _ = _invoke("cancel", "gbpusd", "--reason", "not needed", "--db", db)
    assert code == 0 and "(GBPUSD) canceled, was queued" in out
    code, out, _ = _invoke("cancel", "2", "--reason", "stop it", "--db", db)
    assert code == 0 and "job 2 (USDJPY) canceled, was running" in out
    st = json.loads(_invoke("status", "--db", db, "--json")[1])
    assert [j["pair"] for j in st["queued"]] == ["AUDUSD"] and st["running"] == []
    code, _, exc = _invoke("cancel", "99", "--reason", "x", "--db", db)
    assert code != 0 and isinstance(exc, UserError) and "no job 99" in str(exc)
    store = TrainingStore(open_engine(db))
    job = store.get(2)
    assert job is not None and (job.status, job.error) == (JobStatus.CANCELED, "canceled: stop it")

    code, out, _ = _invoke("history", "EURUSD", "--db", db, "--json")
    ((run),) = json.loads(out)
    assert (run["attempt"], run["status"]) == (1, "failed") and run["error"].startswith(
        "ValueError: bad params"
    )
    code, out, _ = _invoke("history", "EURUSD", "--db", db)
    assert code == 0 and "EURUSD: 1 attempts" in out and "ValueError: bad params" in out

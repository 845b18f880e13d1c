"""`traderbot train status | cancel | history`: the training queue as stored in the database.

These read and write the queue directly, so they work from any process, whether or not a manager is running; a
running job canceled here is stopped by its manager at its next heartbeat (about a second).
"""

from __future__ import annotations

import json
import time
from typing import Any

import typer
from rich.progress_bar import ProgressBar
from rich.table import Table

from traderbot.cli.orders import DB_HELP, _console, database_url
from traderbot.cli.train_start import TrainGroup, start
from traderbot.errors import UserError
from traderbot.store.db import open_engine
from traderbot.store.training_store import TrainingStore
from traderbot.training.jobs import Job, JobStatus

app = typer.Typer(
    name="train",
    help="Train strategy parameters per pair (traderbot train EURUSD ... | --all): the queue, its running "
    "jobs, cancellation and history.",
    no_args_is_help=True,
    cls=TrainGroup,
)
app.command("start")(start)


def _store(db: str | None) -> TrainingStore:
    return TrainingStore(open_engine(database_url(db, must_exist=False)))


def _when(ts: int | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts / 1e9))


def _duration(seconds: float | None) -> str:
    """ "1h02m", "3m05s", "12s"; "-" when unknown."""
    if seconds is None:
        return "-"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _waiting_note(job: Job, now: int) -> str:
    if job.status is JobStatus.RETRY_WAIT:
        wait = max(0.0, (job.not_before_ns - now) / 1e9)
        return f"retry in {_duration(wait)} after: {job.error}"
    return job.message


@app.command("status")
def status(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    failures: int = typer.Option(10, "--failures", min=0, help="How many recent failures to show."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of tables."),
) -> None:
    """The queue in run order, running jobs with progress and ETA, and recent failures with their reasons."""
    st = _store(db).status(failures)
    if as_json:
        print(json.dumps(st.to_dict(), default=str))
        return
    now = time.time_ns()
    console = _console()
    queue = Table("#", "job", "pair", "kind", "priority", "status", "attempts", "queued at (UTC)", "note",
                  title=f"queue: {len(st.queued)} waiting")  # fmt: skip
    for i, j in enumerate(st.queued, 1):
        queue.add_row(str(i), str(j.id), j.pair, j.kind, str(j.priority), j.status.value,
                      f"{j.attempts}/{j.max_attempts}", _when(j.created_ns), _waiting_note(j, now))  # fmt: skip
    running = Table("job", "pair", "attempt", "progress", "%", "ETA", "running for", "message", "owner",
                    title=f"running: {len(st.running)}")  # fmt: skip
    for j in st.running:
        since = None if j.started_ns is None else (now - j.started_ns) / 1e9
        running.add_row(str(j.id), j.pair, f"{j.attempts}/{j.max_attempts}",
                        ProgressBar(total=1.0, completed=j.progress, width=24), f"{j.progress:.0%}",
                        _duration(j.eta_s), _duration(since), j.message, j.owner)  # fmt: skip
    failed = Table(
        "job", "pair", "finished (UTC)", "attempts", "reason", title=f"recent failures: {len(st.failures)}"
    )
    for j in st.failures:
        failed.add_row(str(j.id), j.pair, _when(j.finished_ns), f"{j.attempts}/{j.max_attempts}", j.error)
    for table in (queue, running, failed):
        console.print(table)


@app.command("cancel")
def cancel(
    target: str = typer.Argument(..., help="A pair (its active job) or a job id."),
    reason: str = typer.Option(..., "--reason", help="Why (stored with the job)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Cancel a queued or running job; a running job's worker is stopped by its manager."""
    if not reason.strip():
        raise UserError("a cancel needs a reason: --reason TEXT")
    store = _store(db)
    key: int | str = int(target) if target.isdigit() else target
    if isinstance(key, str) and store.active(key) is None and store.active(key.upper()) is not None:
        key = key.upper()
    before, after = store.cancel(key, reason, time.time_ns())
    note = (
        " (its manager stops the worker within a few seconds)" if before.status is JobStatus.RUNNING else ""
    )
    print(f"job {after.id} ({after.pair}) canceled, was {before.status.value}{note}")


@app.command("history")
def history(
    pair: str = typer.Argument(..., help="The pair whose training attempts to list."),
    limit: int = typer.Option(50, "--limit", min=1, help="Newest N attempts."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="A JSON list instead of a table."),
) -> None:
    """Every training attempt of a pair, oldest first: outcome, duration, error, parameters and metrics."""
    store = _store(db)
    runs = store.history(pair, limit) or store.history(pair.upper(), limit)
    if as_json:
        print(json.dumps([r.to_dict() for r in runs], default=str))
        return
    table = Table("job", "attempt", "started (UTC)", "duration", "status", "error", "params", "in-sample",
                  "out-of-sample", title=f"{pair}: {len(runs)} attempts")  # fmt: skip
    for r in runs:
        table.add_row(str(r.job_id), str(r.attempt), _when(r.started_ns), _duration(r.duration_s), r.status,
                      r.error, _short(r.params), _short(r.in_sample), _short(r.out_of_sample))  # fmt: skip
    _console().print(table)


def _short(value: dict[str, Any] | None) -> str:
    return "-" if not value else json.dumps(value, sort_keys=True, default=str)

"""/api/v1/pairs/{pair}/train and /api/v1/training/jobs: training queued exactly as `traderbot train PAIR` queues
it (same checks, same payload, the same `training_jobs` queue and registry hooks), run by the API's trainer."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
from fastapi import Depends, Path, Query, Request
from sqlalchemy import select

from traderbot.api.app_local import app_local
from traderbot.api.context import ApiContext, Principal, api_context
from traderbot.api.errors import ApiError
from traderbot.api.roles import Caller
from traderbot.api.routes_pairs import PairId, _known
from traderbot.api.schemas import NO_NUL, ReasonBody
from traderbot.api.schemas_ops import TrainRequest
from traderbot.api.trainer import ApiTrainer
from traderbot.api.views import iso
from traderbot.errors import UserError
from traderbot.pairs import normalize_pair
from traderbot.pairs.lifecycle import PairState
from traderbot.store.training_models import TrainingJobRecord as J
from traderbot.store.training_store import TrainingStore
from traderbot.training.jobs import Job, JobStatus

Ctx = Depends(api_context)
JobId = Path(ge=1, le=2**63 - 1, description="A training job id (GET /api/v1/training/jobs).")
JOB_FN = "traderbot.training.pipeline:train_pair"  # what `traderbot train` queues (cli/train_start.py)
_FINAL = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.CANCELED.value)
_SHOWN = ("strategy", "timeframe", "trials", "objective", "start", "end", "train_weeks", "mode")


def trainer(request: Request) -> ApiTrainer:
    ctx = api_context(request)
    return app_local(
        request, "trainer", lambda: ApiTrainer(ctx.engine, ctx.trader_id, ctx.settings.train_workers)
    )


def job_json(job: Job) -> dict[str, Any]:
    result = job.result or {}
    return {"id": job.id, "pair": job.pair, "status": job.status.value, "priority": job.priority,
            "attempts": job.attempts, "max_attempts": job.max_attempts, "progress": round(job.progress, 4),
            "message": job.message, "eta_s": job.eta_s, "error": job.error, "created": iso(job.created_ns),
            "started": iso(job.started_ns), "finished": iso(job.finished_ns),
            "retry_at": iso(job.not_before_ns) if job.status is JobStatus.RETRY_WAIT else None,
            "settings": {k: job.payload.get(k) for k in _SHOWN},
            "result": {k: result.get(k) for k in ("params", "oos_quality", "gate")} if result else None}  # fmt: skip


def _day(text: str | None, name: str) -> pd.Timestamp | None:
    if text is None:
        return None
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ApiError(422, f"{name} {text!r} is not a date: use YYYY-MM-DD or an ISO timestamp") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _payload(pair: str, strategy: str, timeframe: str, body: TrainRequest) -> dict[str, Any]:
    """The job's payload, as cli/train_start.py builds it (no data folder: the trainer's default bar store)."""
    return {"pair": pair, "strategy": strategy, "timeframe": timeframe, "start": body.start, "end": body.end,
            "data_dir": None, "store": None, "trials": body.trials, "objective": body.objective,
            "min_trades": body.min_trades, "train_weeks": body.train_weeks, "mode": body.mode,
            "space": dict(body.space), "gate": dict(body.gate),
            "venue": {"spread_pips": body.spread_pips, "commission_pct": body.commission_pct}}  # fmt: skip


def _check(payload: dict[str, Any]) -> None:
    """Every setting checked before anything is queued, as the CLI checks them (422 naming the problem)."""
    from traderbot.cli.train_start import _has_data
    from traderbot.data.store import parse_timeframe
    from traderbot.strategies.registry import get_strategy
    from traderbot.training.pipeline import TrainSpec
    from traderbot.training.space import search_space

    pair, tf = payload["pair"], payload["timeframe"]
    start, end = _day(payload["start"], "start"), _day(payload["end"], "end")
    if start is not None and end is not None and end <= start:
        raise ApiError(422, f"end {payload['end']} is not after start {payload['start']}: give a range that moves "
                            "forward in time")  # fmt: skip
    try:
        parse_timeframe(tf)
        if not _has_data(pair, tf, None, None):
            raise UserError(f"no {tf} bars for {pair} in the bar store: import them (`traderbot data import`) "
                            "first, or train another timeframe")  # fmt: skip
        spec = TrainSpec.from_payload(payload)
        search_space(get_strategy(spec.strategy).parameters(), spec.space)
    except (UserError, ValueError, TypeError) as exc:
        raise ApiError(422, f"cannot train {pair}: {exc}") from None


def start_training(body: TrainRequest, request: Request, pair: str = PairId, ctx: ApiContext = Ctx,
                   who: Principal = Caller) -> dict[str, Any]:  # fmt: skip
    """Queue a training job for a pair (not while it trades or already has a job) and start the trainer; the
    pair moves to training when the job starts, then to ready or failed."""
    from traderbot.training.manager import TrainingManager

    rec = _known(ctx.registry, pair)
    if rec.state is PairState.TRADING:
        raise ApiError(409, f"{rec.pair} is trading: disable it first (PUT /api/v1/pairs/{rec.pair}/disable), "
                            "then train")  # fmt: skip
    store = TrainingStore(ctx.engine)
    other = store.active(rec.pair)
    if other is not None:
        raise ApiError(409, f"{rec.pair} already has a training job (job {other.id} is {other.status.value}): wait "
                            "for it to finish or cancel it (`traderbot train cancel`)")  # fmt: skip
    payload = _payload(rec.pair, rec.strategy, body.timeframe or rec.timeframe, body)
    _check(payload)
    try:
        job = TrainingManager(ctx.engine, workers=1).submit(
            rec.pair, JOB_FN, payload, priority=body.priority, timeout_s=body.timeout_s,
            max_attempts=body.attempts)  # fmt: skip
    except UserError as exc:  # another caller queued one just now
        raise ApiError(409, str(exc)) from None
    running = trainer(request).kick()
    request.state.outcome = f"training job {job.id} queued for {rec.pair} ({body.reason})"
    return {"job_id": job.id, "job": job_json(job),
            "trainer": "running in the API" if running else "queued only: another trainer runs the queue",
            "links": {"jobs": f"/api/v1/training/jobs?pair={rec.pair}",
                      "pair": f"/api/v1/pairs/{rec.pair}/status"}}  # fmt: skip


def training_jobs(request: Request, pair: str | None = Query(None, min_length=1, max_length=32, pattern=NO_NUL),
                  limit: int = Query(20, ge=1, le=500), ctx: ApiContext = Ctx) -> dict[str, Any]:  # fmt: skip
    """The training queue: waiting jobs in run order, running ones with progress and ETA, recent finished ones."""
    store = TrainingStore(ctx.engine)
    key = None if pair is None else normalize_pair(pair)
    waiting = [j for j in store.waiting() if key is None or j.pair == key]
    running = [j for j in store.running() if key is None or j.pair == key]
    finished = finished_jobs(ctx, key, limit)
    if key is not None and not (waiting or running or finished):
        _known(ctx.registry, key)  # a pair that never trained is fine; an unknown one is a 404
    t = trainer(request)
    if waiting and not t.running:  # jobs left queued by a restart (or queued elsewhere): run them
        t.kick()
    return {"waiting": [{**job_json(j), "position": i} for i, j in enumerate(waiting, 1)],
            "running": [job_json(j) for j in running], "finished": [job_json(j) for j in finished],
            "trainer": {"in_api": t.workers > 0, "running": t.running}}  # fmt: skip


def finished_jobs(ctx: ApiContext, pair: str | None, limit: int) -> list[Job]:
    """Succeeded, failed and canceled jobs, newest first."""
    from traderbot.store.training_store import _job

    q = select(J.__table__).where(J.status.in_(_FINAL))
    if pair is not None:
        q = q.where(J.pair == pair)
    q = q.order_by(J.finished.desc(), J.id.desc()).limit(limit)
    with ctx.engine.connect() as conn:
        return [_job(r) for r in conn.execute(q).mappings()]


def cancel_job(
    body: ReasonBody, request: Request, job_id: int = JobId, ctx: ApiContext = Ctx
) -> dict[str, Any]:
    """Cancel a queued or running training job, as `traderbot train cancel` does: a running job's worker is
    killed by the manager running it at its next heartbeat (about a second)."""
    if not body.reason.strip():  # as the CLI: a cancel needs a reason
        raise ApiError(422, "a cancel needs a reason: give a non-blank reason (it is stored with the job)")
    store = TrainingStore(ctx.engine)
    job = store.get(job_id)
    if job is None:
        raise ApiError(404, f"no training job {job_id}: see GET /api/v1/training/jobs")
    if job.status.is_final:
        raise ApiError(409, f"job {job.id} ({job.pair}) already {job.status.value}: only a queued or running "
                            "job can be canceled")  # fmt: skip
    try:
        before, after = store.cancel(job.id, body.reason, time.time_ns())
    except UserError as exc:  # it finished between the read and the cancel
        raise ApiError(409, str(exc)) from None
    request.state.outcome = f"training job {after.id} ({after.pair}) canceled, was {before.status.value}"
    return {"job_id": after.id, "was": before.status.value, "job": job_json(after),
            "note": "its manager stops the worker within a few seconds"
            if before.status is JobStatus.RUNNING else None}  # fmt: skip

"""The training queue in the database: jobs, their attempts (runs) and the per-pair history.

Every state change is one conditional UPDATE (`WHERE id=? AND status=...`), so several managers and the CLI can
share the queue: a job is claimed by exactly one manager, and a job canceled from another process is seen as
canceled by the manager running it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, RowMapping, insert, select, update
from sqlalchemy.exc import IntegrityError

from traderbot.errors import UserError
from traderbot.store.training_models import TrainingJobRecord as J
from traderbot.store.training_models import TrainingRunRecord as R
from traderbot.training.jobs import ACTIVE, Job, JobStatus, QueueStatus, RunRecord

_WAITING = (JobStatus.QUEUED.value, JobStatus.RETRY_WAIT.value)
_ACTIVE = tuple(s.value for s in ACTIVE)
_FINAL = (JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.CANCELED.value)
_ORDER = (J.priority.desc(), J.created, J.id)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _job(r: RowMapping) -> Job:
    return Job(id=r["id"], pair=r["pair"], kind=r["kind"], fn=r["fn"], payload=json.loads(r["payload"]),
               priority=r["priority"], status=JobStatus(r["status"]), attempts=r["attempts"],
               max_attempts=r["max_attempts"], timeout_s=r["timeout_s"], not_before_ns=r["not_before"],
               created_ns=r["created"], started_ns=r["started"], finished_ns=r["finished"],
               progress=r["progress"], message=r["message"], eta_s=r["eta_s"], error=r["error"],
               result=_loads(r["result"]), owner=r["owner"], heartbeat_ns=r["heartbeat"])  # fmt: skip


def _run(r: RowMapping) -> RunRecord:
    return RunRecord(job_id=r["job_id"], pair=r["pair"], attempt=r["attempt"], status=r["status"],
                     started_ns=r["started"], finished_ns=r["finished"], duration_s=r["duration_s"],
                     error=r["error"], params=_loads(r["params"]), in_sample=_loads(r["in_sample"]),
                     out_of_sample=_loads(r["out_of_sample"]), result=_loads(r["result"]))  # fmt: skip


class TrainingStore:
    """SQL access for the training queue; times are UTC nanoseconds passed in by the caller."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---- queue -----------------------------------------------------------------------------------------------
    def enqueue(self, *, pair: str, kind: str, fn: str, payload: dict[str, Any], priority: int,
                timeout_s: float, max_attempts: int, now: int) -> Job:  # fmt: skip
        """Queue a job; refuses a second active job for the pair (the unique `active_pair` makes it atomic)."""
        values = dict(pair=pair, active_pair=pair, kind=kind, fn=fn, payload=json.dumps(payload, sort_keys=True),
                      priority=priority, status=JobStatus.QUEUED.value, attempts=0, max_attempts=max_attempts,
                      timeout_s=timeout_s, not_before=now, created=now, progress=0.0, message="", error="",
                      owner="", notified=0)  # fmt: skip
        try:
            with self.engine.begin() as conn:
                job_id = conn.execute(insert(J).values(values)).inserted_primary_key[0]  # type: ignore[index]
        except IntegrityError:
            other = self.active(pair)
            what = f"job {other.id} is {other.status.value}" if other else "a job is active"
            raise UserError(
                f"{pair} already has a training job ({what}): wait for it to finish or cancel it with "
                f"`traderbot train cancel {pair} --reason ...`"
            ) from None
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: int) -> Job | None:
        return next(iter(self._jobs(J.id == job_id)), None)

    def active(self, pair: str) -> Job | None:
        return next(iter(self._jobs(J.pair == pair, J.status.in_(_ACTIVE))), None)

    def claim_next(self, owner: str, now: int) -> Job | None:
        """Atomically take the next runnable job (highest priority, then oldest) for `owner`, or None."""
        q = select(J.id).where(J.status.in_(_WAITING), J.not_before <= now).order_by(*_ORDER).limit(8)
        with self.engine.connect() as conn:
            candidates = list(conn.execute(q).scalars())
        for job_id in candidates:
            with self.engine.begin() as conn:
                claimed = conn.execute(
                    update(J).where(J.id == job_id, J.status.in_(_WAITING), J.not_before <= now)
                    .values(status=JobStatus.RUNNING.value, owner=owner, heartbeat=now, started=now,
                            attempts=J.attempts + 1, progress=0.0, message="", eta_s=None)
                ).rowcount  # fmt: skip
            if claimed == 1:
                return self.get(job_id)
        return None

    def set_progress(self, job: Job, progress: float, message: str, eta_s: float | None, now: int) -> bool:
        """Store the running attempt's progress; False when the job is no longer this owner's running job."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(J).where(*self._mine(job))
                .values(progress=progress, message=message, eta_s=eta_s, heartbeat=now)
            ).rowcount == 1  # fmt: skip

    def finish(self, job: Job, status: JobStatus, *, now: int, error: str = "",
               result: dict[str, Any] | None = None, retry_at: int | None = None) -> bool:  # fmt: skip
        """End the running attempt: final `status`, or RETRY_WAIT until `retry_at`; writes the run row in the
        same transaction. False (and nothing written) when the job was canceled meanwhile."""
        values: dict[str, Any] = {"status": status.value, "error": error, "eta_s": None, "heartbeat": None}
        if status is JobStatus.RETRY_WAIT:
            values.update(not_before=retry_at if retry_at is not None else now, owner="")
        else:
            values.update(finished=now, active_pair=None, result=_dumps(result),
                          progress=1.0 if status is JobStatus.SUCCEEDED else job.progress)  # fmt: skip
        attempt_status = JobStatus.FAILED if status is JobStatus.RETRY_WAIT else status
        with self.engine.begin() as conn:
            if conn.execute(update(J).where(*self._mine(job)).values(**values)).rowcount != 1:
                return False
            conn.execute(insert(R).values(self._run_row(job, attempt_status.value, now, error, result)))
        return True

    def requeue(self, job: Job, reason: str, now: int) -> bool:
        """Put a running job whose manager is gone back in the queue; the interrupted attempt does not count."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(J).where(J.id == job.id, J.status == "running", J.owner == job.owner)
                .values(status=JobStatus.QUEUED.value, owner="", heartbeat=None, eta_s=None, progress=0.0,
                        attempts=J.attempts - 1, message=reason, not_before=now)
            ).rowcount == 1  # fmt: skip
            if done:
                conn.execute(insert(R).values(self._run_row(job, "interrupted", now, reason, None)))
        return done

    def cancel(self, target: int | str, reason: str, now: int) -> tuple[Job, Job]:
        """Cancel a job by id, or the active job of a pair: (the job before, the job after)."""
        before = self.get(target) if isinstance(target, int) else self.active(target)
        if before is None:
            what = f"job {target}" if isinstance(target, int) else f"active training job for {target}"
            raise UserError(f"there is no {what}: see `traderbot train status`")
        if before.status.is_final:
            raise UserError(
                f"job {before.id} ({before.pair}) already {before.status.value}; nothing to cancel"
            )
        with self.engine.begin() as conn:
            done = conn.execute(
                update(J).where(J.id == before.id, J.status.in_(_ACTIVE))
                .values(status=JobStatus.CANCELED.value, finished=now, active_pair=None, eta_s=None,
                        error=f"canceled: {reason}")
            ).rowcount  # fmt: skip
        after = self.get(before.id)
        assert after is not None
        if not done:
            raise UserError(
                f"job {before.id} ({before.pair}) finished ({after.status.value}) before the cancel"
            )
        return before, after

    def record_canceled(self, job: Job, reason: str, now: int) -> None:
        """The run row of an attempt stopped because its job was canceled."""
        with self.engine.begin() as conn:
            conn.execute(insert(R).values(self._run_row(job, JobStatus.CANCELED.value, now, reason, None)))

    # ---- hooks ---------------------------------------------------------------------------------------------
    def unnotified(self) -> list[Job]:
        """Jobs with a final outcome whose hook has not been delivered yet."""
        return self._jobs(J.status.in_(_FINAL), J.notified == 0)

    def claim_notification(self, job_id: int) -> bool:
        """True for exactly one caller per job: the one that delivers its final-outcome hook."""
        with self.engine.begin() as conn:
            return conn.execute(
                update(J).where(J.id == job_id, J.status.in_(_FINAL), J.notified == 0).values(notified=1)
            ).rowcount == 1  # fmt: skip

    # ---- queries -------------------------------------------------------------------------------------------
    def waiting(self) -> list[Job]:
        """Queued jobs (and those waiting to retry) in the order they will run."""
        return self._jobs(J.status.in_(_WAITING))

    def running(self) -> list[Job]:
        return self._jobs(J.status == JobStatus.RUNNING.value)

    def failures(self, limit: int = 10) -> list[Job]:
        """The most recent final failures, newest first."""
        return self._jobs(
            J.status == JobStatus.FAILED.value, order=(J.finished.desc(), J.id.desc()), limit=limit
        )

    def status(self, failures: int = 10) -> QueueStatus:
        return QueueStatus(queued=self.waiting(), running=self.running(), failures=self.failures(failures))

    def history(self, pair: str, limit: int = 200) -> list[RunRecord]:
        """The pair's attempts, oldest first."""
        q = select(R).where(R.pair == pair).order_by(R.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        return [_run(r) for r in reversed(rows)]

    # ---- helpers -------------------------------------------------------------------------------------------
    def _jobs(self, *where: Any, order: tuple[Any, ...] = _ORDER, limit: int | None = None) -> list[Job]:
        q = select(J.__table__).where(*where).order_by(*order).limit(limit)
        with self.engine.connect() as conn:
            return [_job(r) for r in conn.execute(q).mappings()]

    @staticmethod
    def _mine(job: Job) -> tuple[Any, ...]:
        return (J.id == job.id, J.status == JobStatus.RUNNING.value, J.owner == job.owner)

    @staticmethod
    def _run_row(
        job: Job, status: str, now: int, error: str, result: dict[str, Any] | None
    ) -> dict[str, Any]:
        res = result or {}
        started = job.started_ns
        return dict(job_id=job.id, pair=job.pair, attempt=job.attempts, started=started, finished=now,
                    duration_s=None if started is None else (now - started) / 1e9, status=status, error=error,
                    params=_dumps(res.get("params")), in_sample=_dumps(res.get("in_sample")),
                    out_of_sample=_dumps(res.get("out_of_sample")), result=_dumps(result))  # fmt: skip

"""The training manager: a persisted priority queue of training jobs run by parallel workers.

Workers are spawned local processes by default, or Ray tasks when `ray_address` is set; both go through the
same loop (claim, start, poll, time out, retry with backoff, finish), and every state change is committed to the
database first, so `traderbot train status` in another process sees it and a restarted manager resumes the queue.
Hooks (the pair registry) run in the manager process after the commit, exactly once per final outcome.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlalchemy import Engine

from traderbot.errors import UserError
from traderbot.store.training_store import TrainingStore
from traderbot.training.jobs import (
    Job,
    JobStatus,
    LocalWorker,
    NoWorker,
    QueueStatus,
    RayBackend,
    RunRecord,
    Worker,
    check_fn,
)

log = logging.getLogger("traderbot.training")
# the managers alive in this process: a job owned by one that is gone was left by a restart
_LIVE: weakref.WeakValueDictionary[str, TrainingManager] = weakref.WeakValueDictionary()


class TrainingHooks(Protocol):
    """What the rest of the system hears about a job: on_started once per job (its first attempt),
    and exactly one of the others when the job reaches its final state (on_failed after the last attempt)."""

    def on_started(self, pair: str, job: Job) -> None: ...
    def on_succeeded(self, pair: str, job: Job, result: dict[str, Any]) -> None: ...
    def on_failed(self, pair: str, job: Job, reason: str) -> None: ...
    def on_canceled(self, pair: str, job: Job) -> None: ...


@dataclass
class _Slot:
    """A job this manager is running: its worker and the progress not yet written."""

    job: Job
    worker: Worker
    t0: float
    last_write: float = 0.0
    progress: float = 0.0
    message: str = ""
    dirty: bool = False
    eta_s: float | None = None


def _is_user_error(outcome: dict[str, Any]) -> bool:
    """The job refused its input (a traderbot.errors.UserError): another attempt cannot fix that."""
    return bool(outcome.get("user_error"))


class TrainingManager:
    """Runs queued training jobs, `workers` at a time, with timeouts, retries, cancellation and recovery."""

    def __init__(self, engine: Engine, *, workers: int = 2, ray_address: str | None = None,
                 now_ns: Callable[[], int] = time.time_ns, hooks: TrainingHooks | None = None,
                 backoff_base_s: float = 2.0, backoff_cap_s: float = 300.0, poll_s: float = 0.05,
                 progress_every_s: float = 0.5, heartbeat_s: float = 1.0,
                 stale_after_s: float = 10.0) -> None:  # fmt: skip
        if workers < 1:
            raise UserError(f"training workers must be at least 1, got {workers}")
        self.store = TrainingStore(engine)
        self.workers, self.ray_address, self.now_ns, self.hooks = workers, ray_address, now_ns, hooks
        self.backoff_base_s, self.backoff_cap_s = backoff_base_s, backoff_cap_s
        self.poll_s, self.progress_every_s = poll_s, progress_every_s
        self.heartbeat_s, self.stale_after_s = heartbeat_s, stale_after_s
        self.instance = uuid.uuid4().hex[:12]
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{self.instance}"
        _LIVE[self.instance] = self
        self._running: dict[int, _Slot] = {}
        self._cancels: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ray: RayBackend | None = None
        self._progress: Callable[[Job], None] | None = None

    # ---- public API ----------------------------------------------------------------------------------------
    def submit(self, pair: str, fn: str, payload: dict[str, Any], *, priority: int = 0, timeout_s: float = 600,
               max_attempts: int = 3, kind: str = "train") -> Job:  # fmt: skip
        """Queue a job for `pair`; `fn` is "module:function", called in a worker as fn(payload, report)."""
        if not pair.strip():
            raise UserError("a training job needs a pair")
        if timeout_s <= 0 or max_attempts < 1:
            raise UserError(f"timeout_s must be > 0 and max_attempts >= 1 (got {timeout_s}, {max_attempts})")
        try:
            payload = dict(payload)
            json.dumps(payload)
        except (TypeError, ValueError) as exc:
            raise UserError(f"the payload of a training job for {pair} must be JSON-able: {exc}") from None
        return self.store.enqueue(pair=pair, kind=kind, fn=check_fn(fn), payload=payload, priority=priority,
                                  timeout_s=float(timeout_s), max_attempts=max_attempts, now=self.now_ns())  # fmt: skip

    def cancel(self, target: int | str, *, reason: str) -> Job:
        """Cancel a job (by id, or the pair's active job); a running one has its worker killed."""
        if not reason.strip():
            raise UserError("a cancel needs a reason (--reason)")
        before, after = self.store.cancel(target, reason, self.now_ns())
        if before.status is JobStatus.RUNNING:
            with self._lock:
                self._cancels.add(after.id)  # the loop kills the worker on its next tick
        self._deliver(after.id)  # the owner of a running job skips it: its run row comes first
        return after

    def run(self, until_idle: bool = True, progress: Callable[[Job], None] | None = None) -> None:
        """The scheduling loop; returns when the queue is empty (until_idle) or after stop()."""
        self._progress = progress
        self._stop.clear()
        self.recover()
        last_beat = last_recover = time.monotonic()
        try:
            while not self._stop.is_set():
                self._deliver_pending()
                for slot in list(self._running.values()):
                    self._poll(slot)
                mono = time.monotonic()
                if mono - last_beat >= self.heartbeat_s:
                    self._heartbeat(mono)
                    last_beat = mono
                if mono - last_recover >= self.stale_after_s:
                    self.recover()
                    last_recover = mono
                self._fill()
                if until_idle and not self._running and not self.store.waiting():
                    break
                time.sleep(self.poll_s)
            self._deliver_pending()
        finally:
            self._abandon("interrupted: the manager stopped")

    def stop(self) -> None:
        """Ask run() to return (from another thread or a progress callback); running jobs are requeued."""
        self._stop.set()

    def recover(self) -> list[Job]:
        """Requeue jobs left `running` by a manager that is gone (stale heartbeat, dead pid, or this process
        restarted); each gets an "interrupted by restart" history row and does not lose an attempt."""
        now = self.now_ns()
        back = []
        for job in self.store.running():
            gone = job.owner != self.owner and self._owner_gone(job, now)
            if gone and self.store.requeue(job, "interrupted by restart", now):
                log.warning(
                    "training job %s (%s) was interrupted by a restart; queued again", job.id, job.pair
                )
                back.append(job)
        return back

    def status(self) -> QueueStatus:
        return self.store.status()

    def history(self, pair: str) -> list[RunRecord]:
        return self.store.history(pair)

    def close(self) -> None:
        """Stop Ray if this manager started it."""
        if self._ray is not None:
            self._ray.close()
            self._ray = None

    def __enter__(self) -> TrainingManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the loop ------------------------------------------------------------------------------------------
    def _fill(self) -> None:
        while len(self._running) < self.workers and not self._stop.is_set():
            job = self.store.claim_next(self.owner, self.now_ns())
            if job is None:
                return
            try:
                worker = self._start(job)
            except UserError:
                self.store.requeue(job, "not started: the worker backend is unavailable", self.now_ns())
                raise
            except Exception as exc:  # cannot start a worker: a failed attempt, not a stuck job
                self._running[job.id] = _Slot(job, NoWorker(), time.monotonic())
                self._attempt_failed(self._running[job.id], f"cannot start a worker: {exc}")
                continue
            self._running[job.id] = _Slot(job, worker, time.monotonic())
            log.info(
                "training job %s (%s) started, attempt %s/%s",
                job.id,
                job.pair,
                job.attempts,
                job.max_attempts,
            )
            if job.attempts == 1:
                self._hook("on_started", job.pair, job)
            self._emit(job)

    def _start(self, job: Job) -> Worker:
        if self.ray_address is None:
            return LocalWorker(job)
        if self._ray is None:
            self._ray = RayBackend(self.ray_address, self.workers)
        return self._ray.start(job)

    def _poll(self, slot: _Slot) -> None:
        job = slot.job
        with self._lock:
            canceled = job.id in self._cancels
            self._cancels.discard(job.id)
        if canceled:
            return self._lost(slot)
        updates, outcome = slot.worker.poll()
        if updates:
            slot.progress, slot.message = updates[-1]
            slot.dirty = True
        if outcome is not None:
            if "ok" in outcome:
                return self._end(slot, JobStatus.SUCCEEDED, result=outcome["ok"])
            if outcome.get("traceback"):
                log.info("training job %s (%s) failed:\n%s", job.id, job.pair, outcome["traceback"])
            return self._attempt_failed(slot, outcome["error"], retry=not _is_user_error(outcome))
        mono = time.monotonic()
        if mono - slot.t0 > job.timeout_s:
            slot.worker.kill()
            return self._attempt_failed(slot, f"timed out after {job.timeout_s:g} s (worker killed)")
        if slot.dirty and mono - slot.last_write >= self.progress_every_s:
            self._write_progress(slot, mono)
        return None

    def _write_progress(self, slot: _Slot, mono: float) -> None:
        """Store progress and an ETA: elapsed x (1 - progress) / progress, the average rate so far."""
        elapsed = mono - slot.t0
        slot.eta_s = elapsed * (1 - slot.progress) / slot.progress if slot.progress > 0 else None
        slot.last_write, slot.dirty = mono, False
        if not self.store.set_progress(slot.job, slot.progress, slot.message, slot.eta_s, self.now_ns()):
            return self._lost(slot)
        self._emit(replace(slot.job, progress=slot.progress, message=slot.message, eta_s=slot.eta_s))

    def _heartbeat(self, mono: float) -> None:
        """Refresh heartbeats; a job canceled elsewhere (the CLI) is noticed here and its worker killed."""
        for slot in list(self._running.values()):
            if slot.job.id in self._running:
                self._write_progress(slot, mono)

    def _attempt_failed(self, slot: _Slot, reason: str, *, retry: bool = True) -> None:
        """Retry after min(cap, base x 2^(attempt-1)) seconds, or fail for good after the last attempt (at once
        when `retry` is off: bad input, which another attempt cannot fix)."""
        job = slot.job
        if retry and job.attempts < job.max_attempts:
            delay = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (job.attempts - 1))
            log.warning("training job %s (%s) attempt %s failed: %s; retry in %.3g s",
                        job.id, job.pair, job.attempts, reason, delay)  # fmt: skip
            self._end(slot, JobStatus.RETRY_WAIT, error=reason, retry_at=self.now_ns() + int(delay * 1e9))
        else:
            self._end(
                slot, JobStatus.FAILED, error=f"{reason} (attempt {job.attempts} of {job.max_attempts})"
            )

    def _end(self, slot: _Slot, status: JobStatus, *, error: str = "", result: dict[str, Any] | None = None,
             retry_at: int | None = None) -> None:  # fmt: skip
        job = replace(slot.job, progress=slot.progress)
        if not self.store.finish(
            job, status, now=self.now_ns(), error=error, result=result, retry_at=retry_at
        ):
            return self._lost(slot)
        self._running.pop(job.id, None)
        log.info("training job %s (%s): %s %s", job.id, job.pair, status.value, error)
        stored = self.store.get(job.id)
        if stored is not None:
            self._emit(stored)
        if status.is_final:
            self._deliver(job.id)
        return None

    def _lost(self, slot: _Slot) -> None:
        """The job is no longer ours to run (canceled, or requeued by another manager): stop its worker."""
        slot.worker.kill()
        self._running.pop(slot.job.id, None)
        job = self.store.get(slot.job.id)
        if job is not None and job.status is JobStatus.CANCELED:
            self.store.record_canceled(slot.job, job.error, self.now_ns())
            self._emit(job)
            self._deliver(job.id)

    def _abandon(self, reason: str) -> None:
        """On leaving run() with jobs still running: kill their workers and put the jobs back in the queue."""
        for slot in list(self._running.values()):
            slot.worker.kill()
            self.store.requeue(slot.job, reason, self.now_ns())
            self._running.pop(slot.job.id, None)

    # ---- hooks and helpers ---------------------------------------------------------------------------------
    def _deliver_pending(self) -> None:
        if self.hooks is not None:
            for job in self.store.unnotified():
                if job.id not in self._running:
                    self._deliver(job.id)

    def _deliver(self, job_id: int) -> None:
        """Call the final-outcome hook once per job (the claim in the database makes it once across managers)."""
        if self.hooks is None or job_id in self._running or not self.store.claim_notification(job_id):
            return
        job = self.store.get(job_id)
        if job is None:
            return
        if job.status is JobStatus.SUCCEEDED:
            self._hook("on_succeeded", job.pair, job, job.result or {})
        elif job.status is JobStatus.FAILED:
            self._hook("on_failed", job.pair, job, job.error)
        else:
            self._hook("on_canceled", job.pair, job)

    def _hook(self, name: str, *args: Any) -> None:
        if self.hooks is None:
            return
        try:
            getattr(self.hooks, name)(*args)
        except Exception:  # a hook's bug must not stop the queue or leave a job running
            log.exception("training hook %s failed for %s", name, args[0])

    def _emit(self, job: Job) -> None:
        if self._progress is not None:
            self._progress(job)

    def _owner_gone(self, job: Job, now: int) -> bool:
        if job.heartbeat_ns is None or now - job.heartbeat_ns > self.stale_after_s * 1e9:
            return True
        host, _, rest = job.owner.partition(":")
        pid_text, _, instance = rest.partition(":")
        if host != socket.gethostname() or not pid_text.isdigit():
            return False
        if int(pid_text) == os.getpid():  # this process: gone unless that manager object still exists
            return instance not in _LIVE
        return not _pid_alive(int(pid_text))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

"""Training jobs: what a job is, what its history records, and the workers that run one job each.

A job names its work as "module:function" text so the queue never imports the training code itself; the worker
(a spawned local process or a Ray task) imports it and calls `fn(payload, report)`, where
`report(progress, message)` streams progress back and the function returns a JSON-able dict or raises.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from traderbot.errors import UserError

Report = Callable[[float, str], None]
JobFn = Callable[[dict[str, Any], Report], dict[str, Any]]
Outcome = dict[str, Any]  # {"ok": result} or {"error": text, "type": name}
Updates = list[tuple[float, str]]


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    RETRY_WAIT = "retry_wait"  # failed an attempt; queued again once `not_before_ns` has passed

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RETRY_WAIT)


@dataclass(frozen=True)
class Job:
    """One training job as stored; `attempts` counts started attempts, `progress` is 0..1 of the current one."""

    id: int
    pair: str
    kind: str
    fn: str
    payload: dict[str, Any]
    priority: int
    status: JobStatus
    attempts: int
    max_attempts: int
    timeout_s: float
    not_before_ns: int
    created_ns: int
    started_ns: int | None = None
    finished_ns: int | None = None
    progress: float = 0.0
    message: str = ""
    eta_s: float | None = None
    error: str = ""
    result: dict[str, Any] | None = None
    owner: str = ""
    heartbeat_ns: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for `train status --json` and the API)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["status"] = self.status.value
        return out


@dataclass(frozen=True)
class RunRecord:
    """One attempt of a job: how it ended, and the parameters and metrics its result carried.

    `params`, `in_sample` and `out_of_sample` are copied from the result's keys of the same names."""

    job_id: int
    pair: str
    attempt: int
    status: str
    started_ns: int | None
    finished_ns: int
    duration_s: float | None
    error: str = ""
    params: dict[str, Any] | None = None
    in_sample: dict[str, Any] | None = None
    out_of_sample: dict[str, Any] | None = None
    result: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class QueueStatus:
    """The queue at a glance: waiting jobs in the order they will run, running jobs, recent final failures."""

    queued: list[Job] = field(default_factory=list)
    running: list[Job] = field(default_factory=list)
    failures: list[Job] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "queued": [j.to_dict() for j in self.queued],
            "running": [j.to_dict() for j in self.running],
            "failures": [j.to_dict() for j in self.failures],
        }


def check_fn(spec: str) -> str:
    """Validate "module:function" text without importing it (the manager must not import training code)."""
    module, sep, name = spec.partition(":")
    if (
        not sep
        or not module
        or not name.isidentifier()
        or not all(p.isidentifier() for p in module.split("."))
    ):
        raise UserError(
            f"job function {spec!r} is not 'module:function' (e.g. traderbot.training.pipeline:train_pair)"
        )
    return spec


def load_fn(spec: str) -> JobFn:
    """Import the job function named by "module:function"."""
    module, _, name = check_fn(spec).partition(":")
    fn = getattr(importlib.import_module(module), name, None)
    if not callable(fn):
        raise AttributeError(f"{module} has no function {name!r}")
    return fn


def error_text(exc: BaseException) -> str:
    """The traceback's last line ("ValueError: bad params"): what failed and why, in one line."""
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def execute(spec: str, payload: dict[str, Any], report: Report) -> dict[str, Any]:
    """Run one job in this process; never raises. {"ok": result} or {"error": text, "type": name, "traceback"}."""
    try:
        result = load_fn(spec)(payload, report)
        if result is None:
            result = {}
        if not isinstance(result, dict):
            raise TypeError(f"job function {spec} returned {type(result).__name__}, expected a dict")
        json.dumps(result)  # a result must survive the database; fail here with the reason if it cannot
        return {"ok": result}
    except BaseException as exc:  # the job's own errors, whatever they are, become its failure
        return {"error": error_text(exc), "type": type(exc).__name__, "traceback": traceback.format_exc(),
                "user_error": isinstance(exc, UserError)}  # fmt: skip


# ---- local worker process (spawned) --------------------------------------------------------------------------
def _watch_parent(parent_pid: int) -> None:
    """An orphaned worker (its manager was killed) exits instead of training for nobody."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(70)


def local_child(spec: str, payload: dict[str, Any], conn: Any, parent_pid: int) -> None:
    """Entry point of a spawned worker process: progress and the outcome go back through `conn` (a Pipe end)."""
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    lock = threading.Lock()

    def report(progress: float, message: str = "") -> None:
        with lock:
            conn.send(("progress", min(1.0, max(0.0, float(progress))), str(message)))

    outcome = execute(spec, payload, report)
    with lock:
        conn.send(("done", outcome))
    conn.close()


# ---- Ray task ------------------------------------------------------------------------------------------------
def ray_child(spec: str, payload: dict[str, Any], job_id: int, queue: Any) -> dict[str, Any]:
    """Body of the Ray task: the same `execute`, with progress sent through a ray.util.queue.Queue."""

    def report(progress: float, message: str = "") -> None:
        queue.put_nowait((job_id, min(1.0, max(0.0, float(progress))), str(message)))

    return execute(spec, payload, report)


# ---- workers: how the manager starts, watches and kills one job -------------------------------------------
class Worker(Protocol):
    def poll(self) -> tuple[Updates, Outcome | None]: ...
    def kill(self) -> None: ...


class LocalWorker:
    """One spawned process per job (not a pool), so a hung job is killed without touching the others."""

    def __init__(self, job: Job) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child_conn = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=local_child, args=(job.fn, job.payload, child_conn, os.getpid()),
                                name=f"traderbot-train-{job.id}")  # fmt: skip
        self.proc.start()
        child_conn.close()

    def poll(self) -> tuple[Updates, Outcome | None]:
        alive = self.proc.is_alive()  # checked before draining: a dead child's last messages are in the pipe
        updates: Updates = []
        outcome: Outcome | None = None
        with contextlib.suppress(EOFError, OSError):
            while outcome is None and self.conn.poll():
                msg = self.conn.recv()
                if msg[0] == "progress":
                    updates.append((msg[1], msg[2]))
                else:
                    outcome = msg[1]
        if outcome is not None:
            self._reap()
        elif not alive:
            code = self.proc.exitcode
            dead = code is not None and code < 0
            how = f"was killed by {_signal_name(-(code or 0))}" if dead else f"exited with code {code}"
            outcome = {"error": f"worker process {how} without a result", "type": "WorkerDied"}
            self._reap()
        return updates, outcome

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(2.0)
        if self.proc.is_alive():
            self.proc.kill()
        self._reap()

    def _reap(self) -> None:
        self.proc.join(5.0)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5.0)
        self.conn.close()


def _signal_name(num: int) -> str:
    try:
        return f"signal {num} ({signal.Signals(num).name})"
    except ValueError:
        return f"signal {num}"


class RayBackend:
    """Ray connection (imported only when configured), the task wrapper and a shared progress queue."""

    def __init__(self, address: str, workers: int) -> None:
        try:
            import ray
            from ray.util.queue import Queue
        except ImportError:
            raise UserError(
                f"training on Ray (ray_address={address!r}) needs the ray package: pip install 'traderbot[ray]', "
                "or leave ray_address unset to train in local processes"
            ) from None
        self.ray = ray
        self.owned = not ray.is_initialized()
        if self.owned:
            try:
                if address == "local":
                    ray.init(num_cpus=workers, include_dashboard=False)
                else:
                    ray.init(address=address)
            except Exception as exc:
                raise UserError(f"cannot start or reach Ray at {address!r}: {exc}") from None
        self.queue = Queue()
        self.task = ray.remote(max_retries=0)(ray_child)
        self.buffers: dict[int, Updates] = defaultdict(list)

    def start(self, job: Job) -> RayWorker:
        return RayWorker(self, job.id, self.task.remote(job.fn, job.payload, job.id, self.queue))

    def take(self, job_id: int) -> Updates:
        n = self.queue.qsize()
        if n:
            for jid, p, m in self.queue.get_nowait_batch(n):
                self.buffers[jid].append((p, m))
        return self.buffers.pop(job_id, [])

    def close(self) -> None:
        if self.owned and self.ray.is_initialized():
            self.ray.shutdown()


@dataclass
class RayWorker:
    backend: RayBackend
    job_id: int
    ref: Any

    def poll(self) -> tuple[Updates, Outcome | None]:
        ray = self.backend.ray
        ready, _ = ray.wait([self.ref], timeout=0)
        outcome: Outcome | None = None
        if ready:
            try:
                outcome = ray.get(self.ref)
            except Exception as exc:  # the worker crashed or was killed: no result came back
                first = (str(exc).strip().splitlines() or [""])[0]
                outcome = {"error": f"Ray worker died without a result ({type(exc).__name__}: {first})",
                           "type": type(exc).__name__}  # fmt: skip
        return self.backend.take(self.job_id), outcome

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.backend.ray.cancel(self.ref, force=True)


class NoWorker:
    """Stands in for a worker that could not be started."""

    def poll(self) -> tuple[Updates, Outcome | None]:
        return [], None

    def kill(self) -> None:
        return None

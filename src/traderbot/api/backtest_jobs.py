"""Backtests run through the API: persisted in `backtest_jobs`, each run by a thread of the API process in its own
spawned worker process (`backtest_work.child_main`), at most `workers` at a time, never on the kernel's thread.

A job whose API process is gone (it died or restarted while the job was queued or running) is marked failed by
the next API process that looks: same host and its process is not alive, or its heartbeat (every 2 s while it
waits or runs) is older than `STALE_S`."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import socket
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, update

from traderbot.store.backtest_models import BacktestJobRecord as B

log = logging.getLogger("traderbot.api")
STALE_S = 60.0
BEAT_S = 2.0
ACTIVE = ("queued", "running")
_LIVE: weakref.WeakValueDictionary[str, BacktestRunner] = weakref.WeakValueDictionary()


@dataclass(frozen=True)
class BacktestJob:
    id: int
    status: str
    created_ns: int
    started_ns: int | None
    finished_ns: int | None
    actor: str
    request: dict[str, Any]
    summary: dict[str, Any] | None
    error: str
    owner: str
    has_report: bool


def _owner_gone(owner: str, heartbeat: int | None, now: int) -> bool:
    if heartbeat is not None and now - heartbeat > STALE_S * 1e9:
        return True
    host, _, rest = owner.partition(":")
    pid_text, _, instance = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    if int(pid_text) == os.getpid():
        return instance not in _LIVE
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class BacktestStore:
    """SQL access to one trader's backtest jobs."""

    COLUMNS = (B.id, B.status, B.created, B.started, B.finished, B.actor, B.request, B.summary, B.error, B.owner,
               (B.report_html.is_not(None)).label("has_report"))  # fmt: skip

    def __init__(self, engine: Engine, trader_id: str) -> None:
        self.engine, self.trader_id = engine, trader_id

    def create(self, request: dict[str, Any], actor: str, owner: str) -> int:
        now = time.time_ns()
        values = dict(trader_id=self.trader_id, created=now, actor=actor[:120], status="queued",
                      request=json.dumps(request, sort_keys=True), error="", owner=owner, heartbeat=now)  # fmt: skip
        with self.engine.begin() as conn:
            return int(conn.execute(insert(B).values(values)).inserted_primary_key[0])  # type: ignore[index]

    def _move(self, job_id: int, frm: tuple[str, ...], **values: Any) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(update(B).where(B.id == job_id, B.status.in_(frm)).values(**values))
        return res.rowcount == 1

    def start(self, job_id: int) -> bool:
        now = time.time_ns()
        return self._move(job_id, ("queued",), status="running", started=now, heartbeat=now)

    def beat(self, job_id: int) -> None:
        self._move(job_id, ACTIVE, heartbeat=time.time_ns())

    def succeed(self, job_id: int, summary: dict[str, Any], html: str) -> None:
        self._move(job_id, ("running",), status="succeeded", finished=time.time_ns(), heartbeat=None,
                   summary=json.dumps(summary, sort_keys=True, default=str), report_html=html)  # fmt: skip

    def fail(self, job_id: int, error: str) -> bool:
        return self._move(
            job_id, ACTIVE, status="failed", finished=time.time_ns(), heartbeat=None, error=error
        )

    def recover(self) -> list[int]:
        """Mark failed the queued or running jobs whose API process is gone; returns their ids."""
        q = select(B.id, B.owner, B.heartbeat).where(B.trader_id == self.trader_id, B.status.in_(ACTIVE))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        now = time.time_ns()
        gone = [r.id for r in rows if _owner_gone(r.owner, r.heartbeat, now)]
        why = "interrupted: the API process running it stopped before it finished; submit it again"
        return [job_id for job_id in gone if self.fail(job_id, why)]

    def get(self, job_id: int) -> BacktestJob | None:
        q = select(*self.COLUMNS).where(B.id == job_id, B.trader_id == self.trader_id)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return None if row is None else self._job(row)

    def recent(self, limit: int) -> list[BacktestJob]:
        q = select(*self.COLUMNS).where(B.trader_id == self.trader_id).order_by(B.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [self._job(r) for r in conn.execute(q).all()]

    def report(self, job_id: int) -> str | None:
        q = select(B.report_html).where(B.id == job_id, B.trader_id == self.trader_id)
        with self.engine.connect() as conn:
            html: str | None = conn.execute(q).scalar()
        return html

    @staticmethod
    def _job(r: Any) -> BacktestJob:
        return BacktestJob(r.id, r.status, r.created, r.started, r.finished, r.actor, json.loads(r.request),
                           None if r.summary is None else json.loads(r.summary), r.error, r.owner,
                           bool(r.has_report))  # fmt: skip


class BacktestRunner:
    """Runs submitted jobs in the background; marks failed, on creation, the jobs of API processes that are gone."""

    def __init__(self, engine: Engine, trader_id: str, *, workers: int = 1, timeout_s: float = 900.0) -> None:
        self.store = BacktestStore(engine, trader_id)
        self.instance = uuid.uuid4().hex[:12]
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{self.instance}"
        self.timeout_s = timeout_s
        self._slots = threading.Semaphore(workers)
        _LIVE[self.instance] = self
        self.store.recover()

    def submit(self, request: dict[str, Any], actor: str) -> int:
        job_id = self.store.create(request, actor, self.owner)
        threading.Thread(target=self._run, args=(job_id, request), name=f"traderbot-backtest-{job_id}",
                         daemon=True).start()  # fmt: skip
        return job_id

    def _run(self, job_id: int, request: dict[str, Any]) -> None:
        try:
            while not self._slots.acquire(timeout=BEAT_S):
                self.store.beat(job_id)
            try:
                if self.store.start(job_id):
                    self._work(job_id, request)
            finally:
                self._slots.release()
        except Exception as exc:  # the database away, a bug: the job must not stay running
            log.exception("backtest job %s failed", job_id)
            try:
                self.store.fail(job_id, f"the API failed running it ({type(exc).__name__}: {exc})")
            except Exception:
                log.exception("backtest job %s could not be marked failed", job_id)

    def _work(self, job_id: int, request: dict[str, Any]) -> None:
        from traderbot.api.backtest_work import child_main

        ctx = multiprocessing.get_context("spawn")
        conn, child_conn = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=child_main, args=(request, child_conn, os.getpid()),
                           name=f"traderbot-backtest-{job_id}", daemon=True)  # fmt: skip
        proc.start()
        child_conn.close()
        deadline = time.monotonic() + self.timeout_s
        try:
            while not conn.poll(BEAT_S):
                self.store.beat(job_id)
                if not proc.is_alive() and not conn.poll(0):
                    self.store.fail(
                        job_id, f"the backtest worker exited with code {proc.exitcode} without a result"
                    )
                    return
                if time.monotonic() > deadline:
                    self.store.fail(job_id, f"timed out after {self.timeout_s:g} s (worker killed)")
                    return
            try:
                message = conn.recv()
            except EOFError:
                self.store.fail(
                    job_id, f"the backtest worker exited with code {proc.exitcode} without a result"
                )
                return
        finally:
            if proc.is_alive():
                proc.terminate()
            proc.join(5.0)
            conn.close()
        if message[0] == "ok":
            self.store.succeed(job_id, message[1], message[2])
        else:
            if message[2]:
                log.warning("backtest job %s failed:\n%s", job_id, message[2])
            self.store.fail(job_id, message[1])

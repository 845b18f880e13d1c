"""The command channel: how the API asks the running service to act without touching the kernel itself.

The API inserts a row into `service_commands` (pending) and polls it; the service runs a `CommandRunner` on its
own (kernel) thread, which claims pending rows with one conditional UPDATE (`WHERE status='pending'`, so of two
runners, or two processes, exactly one wins), runs the handler for the command's kind and stores its result
(done) or error (failed). A command no service claims within the timeout is marked failed, so a service
started later never acts on a stale request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, insert, select, update

from traderbot.errors import UserError
from traderbot.store.api_models import ServiceCommandRecord as C

log = logging.getLogger("traderbot.commands")

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class CommandKind(StrEnum):
    KILL_SWITCH = "kill_switch"  # payload: reason, flatten
    REARM = "rearm"  # payload: reason
    CONFIG_RELOAD = "config_reload"
    CACHE_REFRESH = "cache_refresh"
    RISK_STATE = "risk_state"  # payload: scope, state, reason
    RISK_LOCK = "risk_lock"  # payload: scope, state, minutes or until_ns, reason
    RISK_UNLOCK = "risk_unlock"  # payload: scope, source (None: every lock on the scope), reason
    RISK_OVERRIDE = "risk_override"  # payload: scope, guard, minutes, reason


class CommandStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


FINAL = (CommandStatus.DONE, CommandStatus.FAILED)


@dataclass(frozen=True, slots=True)
class Command:
    id: int
    kind: str
    actor: str
    payload: dict[str, Any]
    status: CommandStatus
    owner: str
    result: dict[str, Any] | None
    ts_ns: int
    finished_ns: int | None

    @property
    def error(self) -> str | None:
        return None if self.result is None else self.result.get("error")


class CommandQueue:
    """SQL access to the commands of one trader (both sides of the channel use it)."""

    def __init__(self, engine: Engine, trader_id: str = "TB") -> None:
        self.engine, self.trader_id = engine, trader_id

    def submit(self, kind: CommandKind | str, payload: Mapping[str, Any], actor: str) -> int:
        values = dict(trader_id=self.trader_id, ts=time.time_ns(), actor=actor, kind=str(kind),
                      payload=json.dumps(dict(payload), sort_keys=True), status=CommandStatus.PENDING.value,
                      owner="")  # fmt: skip
        with self.engine.begin() as conn:
            return int(conn.execute(insert(C).values(values)).inserted_primary_key[0])  # type: ignore[index]

    def get(self, command_id: int) -> Command | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(C).where(C.id == command_id, C.trader_id == self.trader_id)).first()
        if r is None:
            return None
        return Command(r.id, r.kind, r.actor, json.loads(r.payload), CommandStatus(r.status), r.owner,
                       None if r.result is None else json.loads(r.result), r.ts, r.finished)  # fmt: skip

    def pending_ids(self, limit: int = 20) -> list[int]:
        q = (select(C.id).where(C.trader_id == self.trader_id, C.status == CommandStatus.PENDING.value)
             .order_by(C.id).limit(limit))  # fmt: skip
        with self.engine.connect() as conn:
            return [int(i) for i in conn.execute(q).scalars()]

    def _move(self, command_id: int, frm: CommandStatus, to: CommandStatus, **values: Any) -> bool:
        """One conditional UPDATE: True only for the caller that made the move."""
        with self.engine.begin() as conn:
            res = conn.execute(update(C).where(C.id == command_id, C.status == frm.value)
                               .values(status=to.value, **values))  # fmt: skip
        return res.rowcount == 1

    def claim(self, command_id: int, owner: str) -> bool:
        return self._move(command_id, CommandStatus.PENDING, CommandStatus.RUNNING, owner=owner,
                          started=time.time_ns())  # fmt: skip

    def finish(self, command_id: int, result: dict[str, Any], *, failed: bool) -> None:
        to = CommandStatus.FAILED if failed else CommandStatus.DONE
        self._move(command_id, CommandStatus.RUNNING, to, result=json.dumps(result, sort_keys=True, default=str),
                   finished=time.time_ns())  # fmt: skip

    def abandon(self, command_id: int, reason: str) -> bool:
        """A pending command nobody claimed: failed, so no service runs it later. False if it was claimed."""
        return self._move(command_id, CommandStatus.PENDING, CommandStatus.FAILED, owner="nobody",
                          result=json.dumps({"error": reason}), finished=time.time_ns())  # fmt: skip


class CommandRunner:
    """The service side: claims pending commands and runs their handlers (call `step` on the kernel's thread)."""

    def __init__(self, engine: Engine, trader_id: str, handlers: Mapping[str, Handler], *,
                 owner: str | None = None) -> None:  # fmt: skip
        self.queue = CommandQueue(engine, trader_id)
        self.handlers = dict(handlers)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    def step(self, limit: int = 20) -> int:
        """Run the pending commands this runner wins (oldest first); returns how many it ran."""
        ran = 0
        for command_id in self.queue.pending_ids(limit):
            if not self.queue.claim(command_id, self.owner):
                continue  # another runner took it
            ran += 1
            command = self.queue.get(command_id)
            assert command is not None
            result, failed = self._run(command)
            self.queue.finish(command_id, result, failed=failed)
        return ran

    def _run(self, command: Command) -> tuple[dict[str, Any], bool]:
        handler = self.handlers.get(command.kind)
        if handler is None:
            known = ", ".join(sorted(self.handlers)) or "none"
            return {"error": f"this service cannot run {command.kind!r} commands (it runs: {known})"}, True
        try:
            return dict(handler({**command.payload, "actor": command.actor})), False
        except UserError as exc:  # refused by the kernel (e.g. re-arm when not engaged): the user's answer
            return {"error": str(exc), "refused": True}, True
        except Exception as exc:  # a bug: logged, reported, and the runner keeps serving
            log.exception("command %s (%s) failed", command.id, command.kind)
            return {"error": f"{type(exc).__name__}: {exc}"}, True

    async def serve(self, stopping: asyncio.Event, every_s: float = 0.1) -> None:
        """Step every `every_s` on the running loop (the kernel's thread) until `stopping` is set."""
        while not stopping.is_set():
            try:
                self.step()
            except Exception:  # the database away for a moment: logged, tried again next time
                log.exception("command runner step failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), every_s)


class ServiceNotAnswering(Exception):
    """No service claimed the command in time (it is not running, or not serving commands)."""


class ServiceStillRunning(Exception):
    """A service claimed the command but did not finish it in time; it may still finish."""


async def submit_and_wait(queue: CommandQueue, kind: CommandKind, payload: Mapping[str, Any], actor: str, *,
                          timeout_s: float, poll_s: float = 0.02) -> Command:  # fmt: skip
    """Send a command and wait for its final state without blocking the event loop."""
    command_id = await asyncio.to_thread(queue.submit, kind, payload, actor)
    deadline = time.monotonic() + timeout_s
    while True:
        command = await asyncio.to_thread(queue.get, command_id)
        assert command is not None
        if command.status in FINAL:
            return command
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(poll_s)
    why = f"no trading service answered within {timeout_s:g} s"
    if await asyncio.to_thread(queue.abandon, command_id, why):
        raise ServiceNotAnswering(f"{why} (command {command_id} canceled, nothing was changed)")
    last = await asyncio.to_thread(queue.get, command_id)  # claimed at the last moment: maybe done already
    if last is not None and last.status in FINAL:
        return last
    raise ServiceStillRunning(
        f"the service took command {command_id} but did not finish within {timeout_s:g} s"
    )

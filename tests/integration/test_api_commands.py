"""The command channel: the API asks, a runner in the service acts on its own thread, exactly once. Kill switch
and re-arm through the API against a real kernel; 503 when no service answers; two runners racing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal as D
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine
from tests.api_harness import api_on, as_key

from traderbot.api.commands import CommandQueue, CommandRunner, CommandStatus
from traderbot.api.service_commands import kernel_handlers
from traderbot.brokers.sim.costs import VenueConfig
from traderbot.data.series import BarSeries
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.instrument import generic_instrument
from traderbot.model.order import Order
from traderbot.risk.states import TradingState, TradingStates
from traderbot.store.db import open_engine
from traderbot.store.state_store import SqlStateStore


def kernel_with_book(engine: Engine) -> Kernel:
    """A kernel whose trading states live in `engine`, with two open positions and two working limit orders."""
    k = Kernel(starting_cash=D(1_000_000), venue=VenueConfig(fill_on="close"),
               trading_states=TradingStates(SqlStateStore(engine, "TB")))  # fmt: skip
    ts = pd.date_range("2024-01-02", periods=3, freq="1h", tz="UTC").as_unit("ns").asi8
    px = np.array([100.0, 101.0, 102.0])
    for n, iid in enumerate(("X01", "X02")):
        idx = k.add_data(
            generic_instrument(iid, lot_size=D(1)), BarSeries.from_arrays(iid, "1h", ts, px, px, px, px)
        )
        k.cache.visible[idx], k.cache.now_ns = 3, int(ts[-1])
        k.send(Order(f"O-TB-S-{n}", iid, "S", OrderSide.BUY, OrderType.MARKET, D(10), 0))
        k.send(Order(f"O-TB-S-L{n}", iid, "S", OrderSide.BUY, OrderType.LIMIT, D(5), 0, price=D(50)))
    return k


@contextmanager
def stepping(runner: CommandRunner, every_s: float = 0.01) -> Iterator[None]:
    """The service's side: `runner.step()` in a thread of its own (the only thread touching the kernel)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            runner.step()
            stop.wait(every_s)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def test_the_kill_switch_goes_through_the_channel_to_the_kernel_and_back(any_db_url: str) -> None:
    with api_on(any_db_url, command_timeout_s=4) as api:
        kernel = kernel_with_book(api.engine)
        assert len(kernel.cache.open_ids) == 2
        runner = CommandRunner(api.engine, "TB", kernel_handlers(kernel))
        with stepping(runner):
            r = api.client.post("/api/v1/risk/kill-switch", headers=as_key(api.operator),
                                json={"reason": "runaway strategy", "flatten": True})  # fmt: skip
            again = api.client.post(
                "/api/v1/risk/rearm", headers=as_key(api.operator), json={"reason": "fixed"}
            )
            twice = api.client.post(
                "/api/v1/risk/rearm", headers=as_key(api.operator), json={"reason": "again"}
            )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "done" and body["kind"] == "kill_switch"
        assert sorted(body["result"]["canceled"]) == ["O-TB-S-L0", "O-TB-S-L1"]
        assert len(body["result"]["flatten_orders"]) == 2 and body["result"]["denied"] == []
        assert again.status_code == 200 and again.json()["result"] == {"engaged": False, "state": "active"}
        assert twice.status_code == 409
        assert twice.json()["error"]["message"].endswith("the kill switch is not engaged: nothing to re-arm")
        assert not kernel.kill_switch.engaged and kernel.risk.state is TradingState.ACTIVE
        trail = [(c.scope, c.new.value, c.actor, c.reason) for c in SqlStateStore(api.engine, "TB").history()]
        assert ("kill_switch", "halted", "api:operator-test", "runaway strategy") in trail
        assert ("kill_switch", "active", "api:operator-test", "fixed") in trail
        assert all(kernel.portfolio.net_quantity(i) == 0 for i in ("X01", "X02"))


def test_with_no_service_running_the_api_answers_503_and_nothing_runs_later(any_db_url: str) -> None:
    with api_on(any_db_url, command_timeout_s=0.3) as api:
        r = api.client.post(
            "/api/v1/risk/kill-switch", headers=as_key(api.operator), json={"reason": "panic"}
        )
        assert r.status_code == 503 and r.json()["error"]["code"] == "service_unavailable"
        message = r.json()["error"]["message"]
        assert message.startswith(
            "the trading service is not running: no trading service answered within 0.3 s"
        )
        assert "nothing was changed" in message and "traderbot run" in message
        kernel = kernel_with_book(api.engine)
        assert (
            CommandRunner(api.engine, "TB", kernel_handlers(kernel)).step() == 0
        )  # a late service: no stale kill
        assert not kernel.kill_switch.engaged
        command = CommandQueue(api.engine, "TB").get(1)
        assert command is not None and command.status is CommandStatus.FAILED and command.owner == "nobody"


def test_two_runners_racing_run_each_command_exactly_once(any_db_url: str) -> None:
    engines = [open_engine(any_db_url), open_engine(any_db_url)]  # two processes' worth of connections
    queue = CommandQueue(engines[0], "TB")
    ids = [queue.submit("count", {"n": n}, "test") for n in range(30)]
    ran: list[tuple[int, int]] = []
    lock = threading.Lock()

    def handler_for(runner_no: int) -> Any:
        def count(payload: dict[str, Any]) -> dict[str, Any]:
            with lock:
                ran.append((payload["n"], runner_no))
            return {"by": runner_no}

        return count

    runners = [CommandRunner(e, "TB", {"count": handler_for(i)}) for i, e in enumerate(engines)]
    barrier = threading.Barrier(2)

    def race(runner: CommandRunner) -> None:
        barrier.wait()
        while runner.step(limit=5):
            pass

    threads = [threading.Thread(target=race, args=(r,)) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(n for n, _ in ran) == list(range(30))  # each exactly once
    for command_id in ids:
        command = queue.get(command_id)
        assert command is not None and command.status is CommandStatus.DONE
        assert command.owner in (runners[0].owner, runners[1].owner)
        assert command.result == {"by": 0 if command.owner == runners[0].owner else 1}
    for e in engines:
        e.dispose()


def test_unknown_kinds_and_failing_handlers_fail_the_command_not_the_runner(any_db_url: str) -> None:
    engine = open_engine(any_db_url)
    queue = CommandQueue(engine, "TB")

    def broken(payload: dict[str, Any]) -> dict[str, Any]:
        raise ZeroDivisionError("division by zero")

    runner = CommandRunner(engine, "TB", {"broken": broken, "ok": lambda p: {"actor": p["actor"]}})
    first, second, third = (
        queue.submit(kind, {}, who) for kind, who in (("teleport", "a"), ("broken", "b"), ("ok", "c"))
    )
    assert runner.step() == 3
    results = [queue.get(i) for i in (first, second, third)]
    assert [c.status for c in results if c] == [
        CommandStatus.FAILED,
        CommandStatus.FAILED,
        CommandStatus.DONE,
    ]
    assert (
        results[0] and results[0].error == "this service cannot run 'teleport' commands (it runs: broken, ok)"
    )
    assert results[1] and results[1].error == "ZeroDivisionError: division by zero"
    assert results[2] and results[2].result == {"actor": "c"}
    assert CommandQueue(engine, "OTHER").pending_ids() == []  # commands belong to one trader
    engine.dispose()

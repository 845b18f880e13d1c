"""Crash safety, proven: a paper-trading process trading through the OANDA adapter against the OANDA fake is
killed with SIGKILL at three points of its order flow, restarted each time, and finally run to the end.

Kill points: (1) before the send (the intent is committed, nothing on the wire), (2) after the send but before
the acknowledgement (the fake has executed the order and holds the answer back), (3) after a partial fill (the
rest fills while the process is down). Afterwards: every order the broker saw is in our database with the
broker's filled quantity, none was sent twice, and our positions equal the broker's.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.fakes.oanda_fake import OandaFake

from traderbot.brokers.credentials import Secret
from traderbot.brokers.oanda import OandaBroker, OandaConfig
from traderbot.cli.orders import stored_positions
from traderbot.model.enums import OrderStatus
from traderbot.store.db import open_engine
from traderbot.store.journal import SqlOrderJournal

ROOT = Path(__file__).resolve().parents[2]
ORDERS = 9


_RUNNING: list[subprocess.Popen[str]] = []


class Trader:
    """The paper-trading process, with its stdout read line by line."""

    def __init__(self, db: str, url: str, *extra: str) -> None:
        cmd = [
            sys.executable,
            "-m",
            "tests.crash.paper_trader",
            "--db",
            db,
            "--url",
            url,
            "--orders",
            str(ORDERS),
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([*cmd, *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        _RUNNING.append(self.proc)
        self.lines: list[dict[str, Any]] = []

    def read_until(self, cond: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            raw = self.proc.stdout.readline()
            if not raw:
                raise AssertionError(
                    f"trader exited ({self.proc.wait()}) before the expected line: {self.lines}"
                )
            line = json.loads(raw)
            self.lines.append(line)
            if cond(line):
                return line
        raise AssertionError(f"no expected line in time: {self.lines}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(30) == -signal.SIGKILL


def _stored(db: str) -> SqlOrderJournal:
    return SqlOrderJournal(open_engine(db), "TB")


def _wait(cond: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_sigkill_at_three_points_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    try:
        _scenario(tmp_path)
    finally:  # never leave a trader running after a failed assertion
        for p in _RUNNING:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        _RUNNING.clear()


def _scenario(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'paper.db'}"
    with OandaFake(heartbeat=1.0) as fake:
        fake.set_price("EUR_USD", "1.10000", "1.10020")

        # 1. before the send: the 2nd order of the run kills the process inside the adapter's submit
        t = Trader(db, fake.url, "--crash-before-send", "2")
        dying = t.read_until(lambda x: x["event"] == "dying")
        assert t.proc.wait(30) == -signal.SIGKILL
        unsent = dying["id"]
        assert fake.submission_count(unsent) == 0
        assert {o.client_order_id: o for o in _stored(db).load()}[unsent].status is OrderStatus.SUBMITTED

        # 2. after the send, before the acknowledgement: the fake executes the order and holds the answer
        t = Trader(db, fake.url)
        first = t.read_until(lambda x: x["event"] == "reconciled")
        assert ["not_sent", unsent] in first["differences"]
        t.read_until(lambda x: x["event"] == "done")
        fake.delay_next("orders.create", seconds=20)
        in_flight = t.read_until(lambda x: x["event"] == "sent")["id"]
        _wait(lambda: fake.submission_count(in_flight) == 1)
        t.kill()
        # the broker executed it; the killed process may have learnt the fill from the stream before dying
        learnt = {o.client_order_id: o for o in _stored(db).load()}[in_flight].status is OrderStatus.FILLED

        # 3. after a partial fill: 40 % fills, the process sees it, dies; the rest fills while it is down
        t = Trader(db, fake.url)
        second = t.read_until(lambda x: x["event"] == "reconciled")
        assert learnt or ["settled", in_flight] in second["differences"], second
        t.read_until(lambda x: x["event"] == "done")
        fake.set_partial_fill("0.4")
        partial = t.read_until(lambda x: x["event"] == "sent")["id"]
        _wait(lambda: fake.submission_count(partial) == 1)
        time.sleep(
            0.3
        )  # the partial fill reaches the process (it may or may not have stored it: both are safe)
        t.kill()
        fake.set_partial_fill(None)
        assert fake.fill_remaining(partial) is not None

        # the last run settles the partial order and trades to the end
        t = Trader(db, fake.url)
        third = t.read_until(lambda x: x["event"] == "reconciled")
        assert any(d[1] == partial for d in third["differences"]), third
        finished = t.read_until(lambda x: x["event"] == "finished")
        assert t.proc.wait(30) == 0

        journal = _stored(db)
        ours = {o.client_order_id: o for o in journal.load()}
        assert len(ours) == ORDERS
        broker = asyncio.run(_broker_view(fake.url, list(ours)))
        # none duplicated
        assert all(n == 1 for n in fake.submissions.values()), fake.submissions
        # none lost: every order the broker saw is ours, with the broker's filled quantity
        assert set(fake.submissions) <= set(ours)
        for coid, remote in broker["orders"].items():
            if remote is None:
                assert coid == unsent and ours[coid].reason.startswith("NOT_SENT")
                continue
            assert ours[coid].filled_qty == remote.filled_qty, (coid, ours[coid], remote)
            assert ours[coid].status is OrderStatus.FILLED
        # positions equal the broker's (from the stored fills, and as the last process saw them)
        positions = {i: q for i, (q, _avg) in stored_positions(journal).items()}
        assert positions == broker["positions"] == {"EURUSD": Decimal(finished["positions"]["EURUSD"])}


async def _broker_view(url: str, ids: list[str]) -> dict[str, Any]:
    broker = OandaBroker(OandaConfig(account_id="101-004-1234567-001", token=Secret("fake-token"), rest_url=url,
                                     stream_url=url))  # fmt: skip
    await broker.connect()
    try:
        orders = {coid: await broker.order(coid) for coid in ids}
        positions = {p.instrument_id: p.quantity for p in await broker.positions()}
    finally:
        await broker.close()
    return {"orders": orders, "positions": positions}

"""A paper-trading process for the crash-safety test: a TradingSession on the OANDA adapter, sending orders.

    python -m tests.crash.paper_trader --db URL --url http://127.0.0.1:PORT --orders N [--crash-before-send K]

It reconciles at start, then sends market orders (two buys of 1000, one sell of 700, repeated) until the
database holds N orders of strategy CRASH, waiting for each to finish. Progress goes to stdout as JSON lines.
`--crash-before-send K` makes the K-th order of this run kill the process with SIGKILL inside the adapter's
submit: after the intent was committed, before anything went on the wire.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import time
from decimal import Decimal

from traderbot.brokers.base import BrokerOrder
from traderbot.brokers.credentials import Secret
from traderbot.brokers.oanda import OandaBroker, OandaConfig
from traderbot.live.session import SessionConfig, TradingSession
from traderbot.model.instrument import get_instrument
from traderbot.model.order import Order

STRATEGY = "CRASH"


class KillingBroker(OandaBroker):
    def __init__(self, config: OandaConfig, kill_at: int) -> None:
        super().__init__(config)
        self.kill_at = kill_at
        self.calls = 0

    async def submit(self, order: Order) -> BrokerOrder:
        self.calls += 1
        if self.calls == self.kill_at:
            print(json.dumps({"event": "dying", "id": order.client_order_id}), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return await super().submit(order)


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


async def main(args: argparse.Namespace) -> None:
    config = OandaConfig(
        account_id=args.account,
        token=Secret(args.token),
        rest_url=args.url,
        stream_url=args.url,
        timeout=2.0,
        stall_timeout=3.0,
        reconnect_backoff=0.1,
    )
    broker = KillingBroker(config, args.crash_before_send) if args.crash_before_send else OandaBroker(config)
    session = TradingSession(
        broker,
        SessionConfig(database_url=args.db, ack_timeout_s=1.0, reconcile_interval_s=3600),
        [get_instrument("EURUSD")],
    )
    report = await session.start()
    say(event="reconciled", differences=[[d.kind, d.subject] for d in report.differences])
    mine = [o for o in session.kernel.cache.orders.values() if o.strategy_id == STRATEGY]
    for n in range(len(mine), args.orders):
        side = "sell" if n % 3 == 2 else "buy"
        order = session.order(STRATEGY, "EURUSD", side, Decimal(700 if side == "sell" else 1000))
        session.submit(order)
        say(event="sent", id=order.client_order_id, status=order.status.value)
        deadline = time.monotonic() + 15
        while order.is_open and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        session.journal.flush()
        say(event="done", id=order.client_order_id, status=order.status.value, filled=str(order.filled_qty))
    say(event="finished", positions={k: str(v) for k, v in session.positions().items()})
    await session.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", default="fake-token")
    ap.add_argument("--account", default="101-004-1234567-001")
    ap.add_argument("--orders", type=int, default=6)
    ap.add_argument("--crash-before-send", type=int, default=0)
    asyncio.run(main(ap.parse_args()))

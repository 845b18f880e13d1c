"""Kill switch on the simulated venue: 50 open positions and 50 working orders -> everything canceled and flat.

Timed: from `kill_switch.engage(flatten=True)` to the last flattening fill booked in the portfolio (the venue
fills market orders at the last close, `fill_on="close"`). Median of 7 runs, each on a freshly built book.
Target (issue 4): everything flat within 1 second.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_kill.py
"""

from __future__ import annotations

import statistics
import time
from decimal import Decimal

import numpy as np
import pandas as pd

from traderbot.brokers.sim.costs import VenueConfig
from traderbot.data.series import BarSeries
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.instrument import generic_instrument
from traderbot.model.order import Order

POSITIONS = 50


def book() -> Kernel:
    k = Kernel(starting_cash=Decimal(10_000_000), venue=VenueConfig(fill_on="close"))
    ts = pd.date_range("2024-01-02", periods=3, freq="1h", tz="UTC").as_unit("ns").asi8
    px = np.array([100.0, 101.0, 102.0])
    for n in range(POSITIONS):
        iid = f"X{n:02d}"
        idx = k.add_data(
            generic_instrument(iid, lot_size=Decimal(1)), BarSeries.from_arrays(iid, "1h", ts, px, px, px, px)
        )
        k.cache.visible[idx] = 3
        k.cache.now_ns = int(ts[-1])
        side = OrderSide.BUY if n % 2 == 0 else OrderSide.SELL
        k.send(Order(f"O-TB-S-{n:04d}", iid, "S", side, OrderType.MARKET, Decimal(10 + n), 0))
        k.send(
            Order(
                f"O-TB-S-L{n:04d}", iid, "S", OrderSide.BUY, OrderType.LIMIT, Decimal(5), 0, price=Decimal(50)
            )
        )
    return k


def one() -> float:
    k = book()
    t0 = time.perf_counter()
    k.kill_switch.engage(actor="bench", reason="benchmark", flatten=True)
    seconds = time.perf_counter() - t0
    assert not k.portfolio._open and not k.cache.open_ids, "not flat"
    return seconds


def main() -> None:
    one()
    runs = [one() for _ in range(7)]
    print(
        f"kill_switch positions={POSITIONS} open_orders={POSITIONS} median_ms={statistics.median(runs) * 1e3:.2f} "
        f"max_ms={max(runs) * 1e3:.2f} (cancel all + flatten on the simulated venue; target < 1000 ms)"
    )


if __name__ == "__main__":
    main()

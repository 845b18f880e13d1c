"""Order round trips per second in-process: strategy -> risk -> order management -> simulated venue -> fill ->
portfolio, on the kernel that trades live. A strategy buys on one bar and closes on the next, so every bar
carries one order; 200,000 seeded GBM minute bars; median of 5 runs of the bar loop (set-up excluded).

Run: .venv/bin/python benchmarks/bench_orders.py
"""

from __future__ import annotations

import statistics
import time
from decimal import Decimal

import numpy as np
import pandas as pd

from traderbot.data.series import BarSeries
from traderbot.kernel.kernel import Kernel
from traderbot.model.data import Bar
from traderbot.model.instrument import generic_instrument
from traderbot.risk.sizing import Sizing
from traderbot.strategies.base import Strategy

BARS = 200_000


class PingPong(Strategy):
    """Buys 1 unit when flat and closes when long: one market order per bar."""

    name = "ping_pong"

    def on_bar(self, bar: Bar) -> None:
        if self.position() > 0:
            self.close()
        else:
            self.buy(Decimal(1))


def series() -> BarSeries:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.0005, BARS)))
    open_ = np.r_[100.0, close[:-1]]
    ts = pd.date_range("2020-01-01", periods=BARS, freq="1min", tz="UTC").as_unit("ns").asi8
    return BarSeries.from_arrays(
        "PING", "1m", ts, open_, np.maximum(open_, close), np.minimum(open_, close), close
    )


def one_run(s: BarSeries) -> tuple[float, int]:
    k = Kernel(starting_cash=Decimal(1_000_000))
    k.finite_replay = True
    k.add_data(generic_instrument("PING", lot_size=Decimal(1)), s)
    k.add_strategy(PingPong(), "PING", Sizing.parse("units:1"))
    ts, sid, row = k.schedule()
    k.start()
    t0 = time.perf_counter()
    k.run_events(ts, sid, row)
    seconds = time.perf_counter() - t0
    orders = len(k.cache.orders)
    k.dispose()
    return seconds, orders


def main() -> None:
    s = series()
    one_run(s)  # warm-up
    runs = [one_run(s) for _ in range(5)]
    seconds = statistics.median(r[0] for r in runs)
    orders = runs[0][1]
    print(
        f"order_round_trips orders={orders} median_s={seconds:.3f} orders_per_s={orders / seconds:,.0f} "
        f"(bar loop included; target >= 20,000 orders/s)"
    )


if __name__ == "__main__":
    main()

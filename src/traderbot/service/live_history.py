"""A pair's history before it trades live: the last N complete bars, from the market-data cache when it holds a
valid series for the pair (topped up from the broker), else from the broker's candles alone.

Brokers name timeframes "M1", "M15", "H1", "D1"; pairs use ours ("1m", "15m", "1h", "1d"): `broker_timeframe`
maps one to the other. Bars a broker sends twice or out of order are dropped; gaps (market closures, lost
bars) are kept as they are, as a replay of recorded data keeps them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

import numpy as np

from traderbot.brokers.base import Broker
from traderbot.data.market_cache import MarketDataCache
from traderbot.data.series import BarSeries
from traderbot.errors import UserError
from traderbot.model.data import Bar
from traderbot.model.timeframe import Timeframe

log = logging.getLogger("traderbot.service")
WIDEN = (1, 4, 16, 64)  # windows tried, in multiples of N bars' length (weekends and holidays have no bars)


def broker_timeframe(timeframe: str | Timeframe) -> str:
    """Ours ("15m", "1h", "1d", "5s") -> the brokers' ("M15", "H1", "D1", "S5")."""
    tf = Timeframe.parse(timeframe) if isinstance(timeframe, str) else timeframe
    return f"{tf.name[-1].upper()}{tf.name[:-1]}"


def new_bars(bars: Iterable[Bar], after_ts: int) -> tuple[list[Bar], int]:
    """The bars opened after `after_ts`, oldest first, each once and with finite prices; and how many were
    dropped (repeated, older, or without prices)."""
    out: list[Bar] = []
    last, dropped = after_ts, 0
    for b in sorted(bars, key=lambda b: b.ts):
        if b.ts <= last or not all(map(math.isfinite, (b.open, b.high, b.low, b.close))):
            dropped += 1
            continue
        out.append(b)
        last = b.ts
    return out, dropped


def _from_cache(cache: MarketDataCache | None, pair: str, tf: Timeframe, count: int) -> BarSeries | None:
    if cache is None or not cache.store.has(pair, tf.name) or cache.invalid_reason(pair, tf.name) is not None:
        return None
    s = BarSeries.from_frame(cache.store.read(pair, tf.name), pair, tf)
    tail = slice(max(0, len(s) - count), len(s))
    cols = (s.open, s.high, s.low, s.close, s.volume)
    return BarSeries.from_arrays(pair, tf, s.ts[tail], *(c[tail] for c in cols))


def _series(pair: str, tf: Timeframe, bars: list[Bar]) -> BarSeries:
    cols = np.array([(b.open, b.high, b.low, b.close, b.volume) for b in bars], dtype=np.float64)
    ts = np.array([b.ts for b in bars], dtype=np.int64)
    return BarSeries.from_arrays(pair, tf, ts, *(cols[:, k] for k in range(5)))


async def warm_series(
    broker: Broker,
    pair: str,
    timeframe: str,
    *,
    count: int,
    now_ns: int,
    cache: MarketDataCache | None = None,
) -> BarSeries:
    """The last `count` complete bars of `pair` up to `now_ns` (UserError when the broker has none)."""
    tf = Timeframe.parse(timeframe)
    name = broker_timeframe(tf)
    base = _from_cache(cache, pair, tf, count)
    if base is not None:
        got, _ = new_bars(
            await broker.candles(pair, name, int(base.ts[-1]) + tf.ns, now_ns), int(base.ts[-1])
        )
        log.info("%s %s: %d bars from the market-data cache, %d from %s", pair, tf, len(base), len(got),
                 broker.name)  # fmt: skip
        return base.extended(got[-count:]) if got else base
    got = []
    for factor in WIDEN:
        got, dropped = new_bars(await broker.candles(pair, name, now_ns - factor * count * tf.ns, now_ns), -1)
        if dropped:
            log.info("%s %s: %d repeated or empty bars from %s skipped", pair, tf, dropped, broker.name)
        if len(got) >= count:
            break
    if not got:
        days = WIDEN[-1] * count * tf.ns / 86_400e9
        raise UserError(f"{broker.name} has no complete {tf} bars for {pair} in the last {days:.0f} days: "
                        "check the pair and its timeframe")  # fmt: skip
    log.info("%s %s: %d bars of history from %s", pair, tf, min(len(got), count), broker.name)
    return _series(pair, tf, got[-count:])

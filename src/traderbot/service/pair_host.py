"""Pairs started and stopped while the service runs, one at a time, without touching the others.

Starting a pair: its bars are loaded (once) into the kernel, the feed releases them from the replay time on (the
earlier bars visible at once, so indicators are warm), its strategy is built with the pair's active parameters
and started. The feed is a replay (paper) or the broker's bars (live, `live_feed.py`); a live pair's history
comes from the broker, so `start` answers False while it is being fetched and the watcher asks again.
Stopping a pair: the feed stops releasing it, its strategy stops and leaves the kernel, its open orders are
canceled and, if asked, its position is closed at market. A strategy that raises is isolated: the
exception is caught at the pair's own boundary, the pair is paused in the registry with the error, and every
other pair keeps trading.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from traderbot.data.series import BarSeries
from traderbot.errors import UserError
from traderbot.kernel.kernel import Kernel
from traderbot.model.data import Bar
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.instrument import get_instrument
from traderbot.model.order import Order
from traderbot.risk.sizing import Sizing
from traderbot.strategies.base import Strategy
from traderbot.strategies.registry import get_strategy

log = logging.getLogger("traderbot.service")


class BarSource(Protocol):
    """Where a pair's bars come from: a replay dataset, or (live) the broker's history."""

    def has(self, pair: str, timeframe: str) -> bool: ...

    def load(self, pair: str, timeframe: str) -> BarSeries | None:
        """The pair's bars; None when they are not ready yet (ask again later)."""
        ...

    def describe(self) -> str: ...


class BarFeed(Protocol):
    """What releases a series' bars into the kernel while its pair runs (ReplayFeed, LiveFeed)."""

    def add_series(self, sid: int) -> None: ...

    def remove_series(self, sid: int) -> None: ...


@dataclass
class RunningPair:
    pair: str
    sid: int
    strategy: Strategy
    started_ns: int


class PairHost:
    def __init__(self, kernel: Kernel, feed: BarFeed, dataset: BarSource,
                 on_failure: Callable[[str, str], None]) -> None:  # fmt: skip
        self.kernel, self.feed, self.dataset = kernel, feed, dataset
        self.on_failure = on_failure  # (pair, reason): the service pauses the pair in the registry
        self.running: dict[str, RunningPair] = {}
        # pair -> (close ns, monotonic s) of the last bar its strategy received (monitoring: feed idle time and
        # data-to-order latency); written in the guard below, which runs anyway: no bus tap on every bar
        self.last_bar: dict[str, tuple[int, float]] = {}
        self._sids: dict[tuple[str, str], int] = {}
        self._seq = 0

    def series_for(self, pair: str, timeframe: str) -> int | None:
        """The pair's series in the kernel, loaded from the dataset the first time (None: not ready yet)."""
        key = (pair, timeframe)
        sid = self._sids.get(key)
        if sid is None:
            series = self.dataset.load(pair, timeframe)
            if series is None:
                return None
            sid = self._sids[key] = self.kernel.add_data(get_instrument(pair), series)
        return sid

    def start(
        self, pair: str, timeframe: str, strategy_name: str, params: dict[str, Any], sizing: str
    ) -> bool:
        """Start trading `pair`; False while its bars are not ready (ask again). Raises UserError with the
        reason when it cannot: no data, bad parameters."""
        if pair in self.running:
            return True
        self._check_conversion(pair)
        cls = get_strategy(strategy_name)
        strategy = cls(**params)
        sid = self.series_for(pair, timeframe)
        if sid is None:
            return False
        self.feed.add_series(sid)
        self._seq += 1
        strategy.strategy_id = f"{strategy.name}-{pair}-{self._seq}"
        self._guard(pair, strategy)
        self.kernel.add_strategy(strategy, pair, Sizing.parse(sizing))
        try:
            strategy.on_start()
        except Exception as exc:
            self._detach(pair, strategy, sid)
            raise _failed(pair, "start", exc) from exc
        self.running[pair] = RunningPair(pair, sid, strategy, self.kernel.cache.now_ns)
        return True

    def _check_conversion(self, pair: str) -> None:
        """A pair whose P&L and margin are in another currency than the account's needs a pair giving that
        rate among the loaded ones; without it its first fill could not be valued (refused here, not then)."""
        quote, account = get_instrument(pair).quote, self.kernel.portfolio.currency
        if quote == account:
            return
        loaded = {p for p, _ in self._sids} | {pair}
        if {quote + account, account + quote} & loaded:
            return
        raise UserError(f"{pair} settles in {quote} and no {quote}/{account} rate is available to value it in "
                        f"{account}: add and start {account}{quote} (or {quote}{account}) first, then start "
                        f"{pair} again")  # fmt: skip

    def fail(self, pair: str, reason: str) -> None:
        """The pair's strategy failed: stop it (its orders canceled) and have the service pause it."""
        log.error(reason)
        self.stop(pair)
        self.on_failure(pair, reason)

    def stop(self, pair: str, *, cancel: bool = True, flatten: bool = False) -> None:
        run = self.running.pop(pair, None)
        if run is None:
            return
        try:
            run.strategy.on_stop()
        except Exception as exc:  # a stop hook that raises must not keep the pair running
            log.warning("%s: on_stop raised %s", pair, exc)
        self._detach(pair, run.strategy, run.sid)
        if cancel or flatten:
            for order in list(self.kernel.cache.open_ids.values()):
                if order.instrument_id == pair:
                    self.kernel.execution.cancel(order)
        if flatten:
            self._flatten(pair)

    def _detach(self, pair: str, strategy: Strategy, sid: int) -> None:
        k = self.kernel
        self.feed.remove_series(sid)
        k.strategies[:] = [(s, c) for s, c in k.strategies if s is not strategy]
        subs = k._by_series.get(sid, [])
        subs[:] = [s for s in subs if s is not strategy]
        k.execution.fill_listeners.pop(strategy.strategy_id, None)

    def _flatten(self, pair: str) -> None:
        p, k = self.kernel.portfolio, self.kernel
        for (sid, iid), pos in list(p._open.items()):
            if iid != pair or not pos.quantity:
                continue
            side = OrderSide.SELL if pos.quantity > 0 else OrderSide.BUY
            self._seq += 1
            o = Order(f"FLAT-{pair}-{self._seq}", pair, sid, side, OrderType.MARKET, abs(pos.quantity),
                      k.cache.now_ns, reduce_only=True)  # fmt: skip
            k.send(o)

    def _guard(self, pair: str, strategy: Strategy) -> None:
        """Catch the strategy's exceptions at its own boundary: the pair stops, the others go on."""
        on_bar = strategy.on_bar
        seen, clock = self.last_bar, time.monotonic

        def guarded(bar: Bar) -> None:
            seen[pair] = (bar.ts_close, clock())
            run = self.running.get(pair)
            if run is None or run.strategy is not strategy:  # stopped earlier in this batch of bars
                return
            try:
                on_bar(bar)
            except Exception as exc:
                self.fail(pair, str(_failed(pair, "on_bar", exc)))

        strategy.on_bar = guarded  # type: ignore[method-assign]

    def positions(self) -> dict[str, Decimal]:
        p = self.kernel.portfolio
        return {iid: q for iid, q in p._net.items() if q}


def _failed(pair: str, where: str, exc: BaseException) -> Exception:
    from traderbot.errors import UserError

    return UserError(f"{pair}: strategy {where} raised {type(exc).__name__}: {exc}")

"""The kernel: one deterministic, single-threaded dispatcher used by backtests, paper and live trading.

Per bar event: the clock moves to the bar's close, the venue matches working orders against the bar (fills at
its open or inside it), the bar becomes visible in the cache, then strategies subscribed to the pair get
`on_bar`. Orders they send pass the risk engine and the execution engine before reaching the venue.
"""

from __future__ import annotations

import gc
import traceback
from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import numpy as np

from traderbot.brokers.sim.costs import VenueConfig
from traderbot.brokers.sim.venue import SimulatedVenue
from traderbot.core.bus import MessageBus
from traderbot.core.clock import SimulatedClock
from traderbot.data.series import BarSeries, resample_series
from traderbot.errors import UserError
from traderbot.execution.algos.engine import AlgoEngine
from traderbot.execution.engine import ExecutionEngine, OrderJournal
from traderbot.kernel.cache import Cache
from traderbot.kernel.strategy_context import StrategyContext
from traderbot.model.data import Bar
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.instrument import Instrument
from traderbot.model.order import Order, exit_order
from traderbot.portfolio.portfolio import Portfolio
from traderbot.risk.config import RiskConfig
from traderbot.risk.engine import RiskEngine, RiskLimits
from traderbot.risk.kill_switch import KillSwitch
from traderbot.risk.setup import RiskParts, apply_risk_config
from traderbot.risk.sizing import Sizing
from traderbot.risk.states import TradingStates
from traderbot.strategies.base import Strategy


class StrategyError(UserError):
    """A strategy's own code raised; the message names the strategy, the bar time and the user's line."""


class Kernel:
    def __init__(
        self,
        *,
        account_currency: str = "USD",
        starting_cash: Decimal = Decimal(10_000),
        venue: VenueConfig | None = None,
        risk_limits: RiskLimits | None = None,
        trader_id: str = "TB",
        journal: OrderJournal | None = None,
        trading_states: TradingStates | None = None,
    ) -> None:
        self.trader_id = trader_id
        self.bus = MessageBus()
        self.clock = SimulatedClock()
        self.cache = Cache()
        self.portfolio = Portfolio(self.cache, self.bus, account_currency, starting_cash)
        self.risk = RiskEngine(self.cache, self.portfolio, risk_limits, trading_states)
        self.risk.attach_bus(self.bus)
        self.execution = ExecutionEngine(
            self.cache, self.bus, self.portfolio, journal, bar_index=self._bar_index
        )
        self.venue = SimulatedVenue(
            self.cache, self.portfolio, venue or VenueConfig(), self.execution.on_event
        )
        self.execution.venue = self.venue
        self.kill_switch = KillSwitch(self)
        self.risk.kill_switch_engaged = lambda: self.kill_switch.engaged
        self.risk_parts = RiskParts()  # news, protections, breakers: see configure_risk
        self.execution.clock = self.clock
        self.execution.spawn_child = self._spawn_child
        self.execution.submit_child = self.send
        # execution algorithms (TWAP, VWAP, Iceberg): driven by clock timers and order events, no per-bar work
        self.algos = AlgoEngine(self)
        self.strategies: list[tuple[Strategy, StrategyContext]] = []
        self._by_series: dict[int, list[Strategy]] = {}
        self._derived: set[int] = set()
        self.finite_replay = False  # a backtest: orders sent on a pair's last bar are ignored
        self.bars_processed = 0

    # ---- setup ---------------------------------------------------------------------------------------------
    def add_data(self, instrument: Instrument, series: BarSeries) -> int:
        return self.cache.add_series(instrument, series)

    def add_derived_series(self, series: BarSeries) -> int:
        """A series computed from loaded bars (e.g. a higher timeframe); visible by time, not scheduled."""
        inst = self.cache.instruments[series.instrument_id]
        idx = self.cache.add_series(inst, series)  # coarser than the loaded bars: never the primary series
        self._derived.add(idx)
        return idx

    def extend_series(self, sid: int, bars: Sequence[Bar]) -> int:
        """Live trading: append newly closed `bars` to series `sid` and return the row of the first one.

        The new rows are not visible yet (the feed dispatches them next, as a replay would); the pair's resampled
        series are derived again, and every strategy's views and indicators on them computed again and checked
        unchanged on the rows already seen. A strategy whose indicator fails that check is named in the error,
        after the others were refreshed."""
        cache = self.cache
        old = cache.series[sid]
        cache.series[sid] = old.extended(bars)
        grown = {sid}
        if cache.primary.get(old.instrument_id) == sid:
            for idx in self._derived:
                derived = cache.series[idx]
                if derived.instrument_id == old.instrument_id:
                    cache.series[idx] = resample_series(cache.series[sid], derived.timeframe)
                    grown.add(idx)
        failed: list[str] = []
        for strategy, ctx in self.strategies:
            try:
                ctx.refresh(grown)
            except Exception as exc:
                failed.append(f"strategy {strategy.strategy_id}: {type(exc).__name__}: {exc}")
        if failed:
            raise StrategyError("; ".join(failed))
        return len(old)

    def add_strategy(self, strategy: Strategy, instrument_id: str, sizing: Sizing | None = None) -> None:
        if any(s.strategy_id == strategy.strategy_id for s, _ in self.strategies):
            strategy.strategy_id = f"{strategy.strategy_id}-{instrument_id}"
        strategy.instrument_id = self.cache.instrument(instrument_id).id
        ctx = StrategyContext(self, strategy, sizing or Sizing.parse("all_in"))
        strategy._ctx = ctx
        self.strategies.append((strategy, ctx))
        self._by_series.setdefault(self.cache.series_index(instrument_id), []).append(strategy)
        if type(strategy).on_fill is not Strategy.on_fill:  # only strategies that listen pay for the call
            self.execution.fill_listeners[strategy.strategy_id] = self._guard(strategy, strategy.on_fill)

    def configure_risk(self, config: RiskConfig) -> RiskParts:
        """Apply a whole, validated risk configuration (checks, guards, protections, breakers) at once."""
        return apply_risk_config(self, config)

    # ---- order flow ----------------------------------------------------------------------------------------
    def send(self, order: Order) -> str | None:
        """Risk engine, then execution engine; returns the client order id, or None when denied."""
        reason = self.risk.check(order)
        if reason is not None:
            self.execution.deny(order, reason)
            return None
        self.execution.submit(order)
        return order.client_order_id

    def _spawn_child(
        self, parent: Order, side: str, otype: OrderType, qty: Decimal, px: Decimal | None
    ) -> Order:
        ctx = next(c for s, c in self.strategies if s.strategy_id == parent.strategy_id)
        return exit_order(parent, ctx.ids.generate(), OrderSide(side), otype, qty, px, self.cache.now_ns)

    def _bar_index(self, instrument_id: str) -> int:
        idx = self.cache.primary[instrument_id]
        return max(self.cache.visible[idx], 0)

    # ---- running -------------------------------------------------------------------------------------------
    def schedule(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All scheduled bars in close-time order (ties: order the series were added): (ts_close, series, row)."""
        parts = [
            (s.ts_close, np.full(len(s), k, dtype=np.int64), np.arange(len(s), dtype=np.int64))
            for k, s in enumerate(self.cache.series)
            if k not in self._derived
        ]
        if not parts:
            raise UserError("no market data loaded: add at least one pair with data")
        ts = np.concatenate([p[0] for p in parts])
        sid = np.concatenate([p[1] for p in parts])
        row = np.concatenate([p[2] for p in parts])
        order = np.lexsort((row, sid, ts))
        return ts[order], sid[order], row[order]

    def start(self) -> None:
        for strategy, _ in self.strategies:
            self._guard(strategy, strategy.on_start)()

    def stop(self) -> None:
        for strategy, _ in self.strategies:
            self._guard(strategy, strategy.on_stop)()

    def run(self) -> None:
        """Replay every loaded bar as fast as possible (backtest mode)."""
        ts, sid, row = self.schedule()
        self.start()
        self.run_events(ts, sid, row)
        self.stop()

    def run_events(self, ts: np.ndarray, sid: np.ndarray, row: np.ndarray) -> None:
        """Dispatch scheduled bars in order, with the cyclic garbage collector tuned for the loop."""
        cols = [_columns(s) for s in self.cache.series]
        plan = (_buffer(ts, "q"), _buffer(sid, "q"), _buffer(row, "q"))
        # the one-series fast path reads bar i as event i: only for a whole schedule, not a slice of one
        whole = len(self.cache.series) != 1 or (
            len(row) == len(self.cache.series[0]) and (not len(row) or row[0] == 0)
        )
        with gc_tuned():  # after building the big lists, so that the freeze covers them
            self._run_events(plan, cols, whole=whole)
        self.bars_processed += len(ts)

    def _run_events(
        self, plan: tuple[array[Any], ...], cols: list[tuple[array[Any], ...]], *, whole: bool = True
    ) -> None:
        """Dispatch scheduled bars in order. The loop is the hot path: one record per series looked up once per
        bar, plain lists, no per-bar allocation beyond the immutable Bar handed to subscribed strategies.
        `whole`: the plan is a whole schedule from its first bar (a replay releasing a slice passes False)."""
        cache, venue, clock, portfolio = self.cache, self.venue, self.clock, self.portfolio
        visible = cache.visible
        financing = venue.financing_on
        new_bar = tuple.__new__
        per_series: list[tuple[Any, ...]] = [
            (
                s.instrument_id,
                s.timeframe.name,
                s.timeframe.ns,
                *cols[k],
                venue.working.setdefault(s.instrument_id, []),
                [st.on_bar for st in self._by_series.get(k, [])],
                self._by_series.get(k, []),
            )
            for k, s in enumerate(cache.series)
        ]
        times = plan[0]
        portfolio.event_index = lambda: bisect_right(times, cache.now_ns) - 1  # asked once per fill only
        bus = self.bus
        tap = bus.has_subscribers("bars")  # breakers, API, recorders get every bar on topic "bars"
        if whole and len(per_series) == 1 and not clock._heap and not financing and not tap:
            self._run_single(times, per_series[0])
            return
        for t, k, i in zip(*plan, strict=True):
            if clock._heap:
                clock.advance_to(t)
            else:
                clock._now = t
            cache.now_ns = t
            iid, tf, tf_ns, c_o, c_h, c_l, c_c, c_v, working, handlers, subs = per_series[k]
            if working or financing:
                venue.on_bar(k, i)
            visible[k] = i + 1
            if handlers or tap:
                bar = new_bar(Bar, (iid, tf, t - tf_ns, t, c_o[i], c_h[i], c_l[i], c_c[i], c_v[i]))
                if tap:  # before strategies: a breaker tripped by this bar already guards their orders
                    bus.publish("bars", bar)
                try:
                    for on_bar in handlers:
                        on_bar(bar)
                except UserError:
                    raise
                except Exception as exc:
                    failed = next((st for st in subs if st.on_bar == on_bar), subs[0])
                    raise _strategy_error(failed, t, exc) from exc

    def _run_single(self, times: array[Any], rec: tuple[Any, ...]) -> None:
        """The same dispatch for the common case of one series and no timers: bar i is event i.

        It repeats the general loop's body on purpose: a shared per-bar helper call would cost ~10 % here."""
        cache, venue, clock = self.cache, self.venue, self.clock
        visible = cache.visible
        new_bar = tuple.__new__
        iid, tf, tf_ns, c_o, c_h, c_l, c_c, c_v, working, handlers, subs = rec
        for i, t in enumerate(times):
            if clock._heap:  # a strategy may set a timer while running
                clock.advance_to(t)
            else:
                clock._now = t
            cache.now_ns = t
            if working:
                venue.on_bar(0, i)
            visible[0] = i + 1
            if handlers:
                bar = new_bar(Bar, (iid, tf, t - tf_ns, t, c_o[i], c_h[i], c_l[i], c_c[i], c_v[i]))
                try:
                    for on_bar in handlers:
                        on_bar(bar)
                except UserError:
                    raise
                except Exception as exc:
                    failed = next((st for st in subs if st.on_bar == on_bar), subs[0])
                    raise _strategy_error(failed, t, exc) from exc

    def dispose(self) -> None:
        """Break the kernel's reference cycles (strategy <-> context <-> kernel, engine <-> venue callbacks) so
        a finished run is freed at once by reference counting instead of waiting for a full GC pass."""
        for strategy, ctx in self.strategies:
            strategy._ctx = None
            ctx._views.clear()
            ctx._built.clear()
        self.strategies.clear()
        self._by_series.clear()
        self.execution.fill_listeners.clear()
        self.algos.dispose()
        self.execution.venue = None
        self.execution.spawn_child = None
        self.execution.submit_child = None
        self.execution._bar_index = _no_bar_index
        self.portfolio.event_index = lambda: -1
        self.risk.dispose()  # bound methods of the risk engine: a cycle through it to every order
        self.bus = MessageBus()  # subscribers may hold the kernel's parts

    def _guard(self, strategy: Strategy, fn):  # type: ignore[no-untyped-def]
        def call(*args):  # type: ignore[no-untyped-def]
            try:
                return fn(*args)
            except UserError:
                raise
            except Exception as exc:
                raise _strategy_error(strategy, self.cache.now_ns, exc) from exc

        return call


@contextmanager
def gc_tuned() -> Iterator[None]:
    """Freeze the objects that exist before the loop (bar columns, indicators) so collections stop rescanning
    them, and collect young objects less often; both are restored afterwards. The collector stays enabled."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, threshold[1], threshold[2])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _no_bar_index(_instrument_id: str) -> int:
    return 0


def _buffer(values: np.ndarray, code: str) -> array[Any]:
    """A flat copy as a Python array: indexing it is several times cheaper than NumPy scalars, and unlike a
    list it holds no per-element objects (one memcpy instead of millions of allocations to page in)."""
    out: array[Any] = array(code)
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64 if code == "d" else np.int64).tobytes())
    return out


def _columns(s: BarSeries) -> tuple[array[Any], ...]:
    return tuple(_buffer(a, "d") for a in (s.open, s.high, s.low, s.close, s.volume))


def _strategy_error(strategy: Strategy, ts: int, exc: BaseException) -> StrategyError:
    import pandas as pd

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    when = pd.Timestamp(ts, tz="UTC") if ts else "start"
    return StrategyError(
        f"strategy {strategy.name} failed at {when}: {type(exc).__name__}: {exc}{where}; fix the strategy code"
    )

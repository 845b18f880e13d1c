"""Evaluate one parameter set of a signal strategy on one pair, kept per day for walk-forward training.

Each candidate runs once over the whole span on the fast sweep path (same fills, costs and sizing as the event
engine), and what training needs is kept per UTC day: the equity at the day's end, the trades by the day they
closed, and the signals with their hits against the next close (the QFH spec's hit rate next to its base rate),
counted on the day that next close comes, so a window never scores a signal on a bar after its end.
Any window of whole days is then measured from these arrays without running the simulation again. Because the
strategy's signals and the simulation are causal, a day's figures depend only on bars closed by that day's end:
measuring a window never reads anything after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from traderbot.backtest import _sweep_kernel as K
from traderbot.backtest.sweep import _prices, _risk_dist, _signals, _sweepable, build_cfg, day_ends
from traderbot.brokers.sim.costs import VenueConfig
from traderbot.data.series import BarSeries
from traderbot.model.instrument import Instrument
from traderbot.risk.sizing import Sizing
from traderbot.strategies.base import Strategy
from traderbot.strategies.signal_strategy import SignalStrategy
from traderbot.training.metrics import WindowStats, stats_from_series


@dataclass(frozen=True)
class PairData:
    """One pair's bars prepared once for every candidate: prices as the event engine reads them, day ends,
    the simulator settings, and per-day counts of next-close moves beyond the hit threshold (the base rates)."""

    instrument: Instrument
    series: BarSeries
    arrays: tuple[np.ndarray, ...]  # open, high, low, close (rounded to the instrument), volume
    ends: np.ndarray  # bool per bar: the last bar of its UTC day
    day_of_bar: np.ndarray  # int per bar: index of its day
    day_ns: np.ndarray  # close time of each day's last bar
    ppy: int
    cfgs: dict[bool, np.ndarray]  # simulator settings by long_only
    sizing: Sizing
    cash: float
    move_up: np.ndarray  # bool per bar: next close > +threshold pips
    move_down: np.ndarray  # bool per bar: next close < -threshold pips
    known: np.ndarray  # bool per bar: the next close is known (not the last bar)
    day_up: np.ndarray  # per day of the next close: bars whose next move is up / down / known
    day_down: np.ndarray
    day_known: np.ndarray
    venue: VenueConfig

    @property
    def days(self) -> int:
        return len(self.day_ns)


def prepare(
    instrument: Instrument,
    series: BarSeries,
    *,
    venue: VenueConfig | None = None,
    sizing: Sizing | None = None,
    cash: Decimal = Decimal(10_000),
    threshold_pips: float = 0.5,
    fast: bool = True,
) -> PairData:
    """`fast`: candidates run on the sweep path (a signal strategy on settings it mirrors), else on the event
    engine (`evaluate_events`)."""
    venue = venue or VenueConfig()
    sizing = sizing or Sizing.parse("all_in")
    o, h, lo, c = _prices(series, instrument)
    ends, ppy = day_ends(series)
    day_of_bar = np.concatenate([[0], np.cumsum(ends[:-1])]).astype(np.int64)
    pip = float(instrument.pip_size)
    move = np.append((c[1:] - c[:-1]) / pip, np.nan)
    known = np.isfinite(move)
    up, down = known & (move > threshold_pips), known & (move < -threshold_pips)
    days = int(ends.sum())
    outcome_day = np.append(day_of_bar[1:], days)  # a signal is scored on the day its next close comes

    def per_day(mask: np.ndarray) -> np.ndarray:
        return np.bincount(outcome_day, weights=mask.astype(np.float64), minlength=days + 1)[:days]

    cfgs: dict[bool, np.ndarray] = {}
    if fast:
        _sweepable(venue)
        cfgs = {flag: build_cfg(instrument, venue, sizing, cash, flag, ppy) for flag in (False, True)}
    return PairData(
        instrument, series, (o, h, lo, c, series.volume), ends, day_of_bar, series.ts_close[ends], ppy, cfgs,
        sizing, float(cash), up, down, known, per_day(up), per_day(down), per_day(known), venue,
    )  # fmt: skip


@dataclass(frozen=True)
class Evaluation:
    """One candidate over the whole span, per day (see the module docstring)."""

    params: dict[str, Any]
    equity: np.ndarray  # equity at each day's end
    trade_day: np.ndarray  # day each closed trade exited
    trade_pnl: np.ndarray  # its P&L after costs (account currency)
    day_buys: np.ndarray  # per day: BUY and SELL signals with a known next close, and their hits
    day_sells: np.ndarray
    day_buy_hits: np.ndarray
    day_sell_hits: np.ndarray


def evaluate(cls: type[SignalStrategy], data: PairData, params: dict[str, Any]) -> Evaluation:
    """Signals and one simulation over the whole span (the parameters are validated by the strategy)."""
    inst = data.instrument
    o, h, lo, c, _ = data.arrays
    sig, sl, tp = _signals(cls, params, data.arrays, inst, float(inst.tick_size))
    risk = _risk_dist(data.series, sig) if data.sizing.method == "risk" else np.zeros(len(c))
    cfg = data.cfgs[bool(params.get("long_only", False))]
    rec = np.zeros((len(c) + 1, 7))
    equity = np.zeros(data.days)
    stats = K.simulate(o, h, lo, c, sig, sl, tp, risk, data.ends, cfg, True, rec, equity)
    trades = rec[: int(stats[K.S_TRADES])]
    exit_bar = trades[:, 1].astype(np.int64)
    buys, sells = (sig == 1) & data.known, (sig == -1) & data.known
    days = data.days
    outcome_day = np.append(data.day_of_bar[1:], days)

    def per_day(mask: np.ndarray) -> np.ndarray:  # by the day of the next close, as PairData's base counts
        return np.bincount(outcome_day, weights=mask.astype(np.float64), minlength=days + 1)[:days]

    return Evaluation(
        params, equity, data.day_of_bar[exit_bar], trades[:, 6].copy(), per_day(buys), per_day(sells),
        per_day(buys & data.move_up), per_day(sells & data.move_down),
    )  # fmt: skip


def evaluate_events(cls: type[Strategy], data: PairData, params: dict[str, Any]) -> Evaluation:
    """The same figures from a full event-engine backtest, for strategies without a sweep path (or settings
    the sweep path does not mirror). No signal figures: hit rates are for signal strategies."""
    from traderbot.backtest.runner import BacktestSpec, run_backtest

    spec = BacktestSpec(cls, [(data.instrument, data.series)], params, Decimal(repr(data.cash)),
                        venue=data.venue, sizing=data.sizing)  # fmt: skip
    res = run_backtest(spec)
    per_bar = res.equity.to_numpy(dtype=np.float64)[1:]  # the first point is the start, before any bar
    exits = res.trades["exit_time"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    zero = np.zeros(data.days)
    return Evaluation(
        res.params, per_bar[data.ends], np.searchsorted(data.day_ns, exits, side="left"),
        res.trades["pnl"].to_numpy(dtype=np.float64), zero, zero, zero, zero,
    )  # fmt: skip


@dataclass
class Parts:
    """Raw figures of one or more day ranges, to be measured together (`measure`)."""

    returns: list[np.ndarray]
    pnl: list[np.ndarray]
    signals: float = 0.0
    hits: float = 0.0
    base_hits: float = 0.0

    def add(self, ev: Evaluation, data: PairData, a: int, b: int) -> None:
        """Days [a, b) of one candidate: daily returns from the equity before the range, trades closed in it,
        signals in it and their hits, with the base rate of the same bars."""
        start = ev.equity[a - 1] if a > 0 else data.cash
        seg = ev.equity[a:b]
        prev = np.concatenate([[start], seg[:-1]])
        with np.errstate(divide="ignore", invalid="ignore"):
            self.returns.append(np.where(prev > 0, seg / prev - 1.0, 0.0))
        self.pnl.append(ev.trade_pnl[(ev.trade_day >= a) & (ev.trade_day < b)])
        nb, ns = ev.day_buys[a:b].sum(), ev.day_sells[a:b].sum()
        self.signals += nb + ns
        self.hits += ev.day_buy_hits[a:b].sum() + ev.day_sell_hits[a:b].sum()
        known = data.day_known[a:b].sum()
        if known:
            self.base_hits += (nb * data.day_up[a:b].sum() + ns * data.day_down[a:b].sum()) / known

    def add_flat(self, a: int, b: int) -> None:
        """Days the pair sat out (no candidate qualified): no returns, no trades."""
        self.returns.append(np.zeros(max(b - a, 0)))

    def measure(self, ppy: int) -> WindowStats:
        return stats_from_series(
            np.concatenate(self.returns) if self.returns else np.zeros(0),
            np.concatenate(self.pnl) if self.pnl else np.zeros(0),
            periods_per_year=ppy,
            hits=round(self.hits),
            signals=round(self.signals),
            base_hits=float(self.base_hits),
        )


def window(ev: Evaluation, data: PairData, first_day: int, end_day: int) -> WindowStats:
    """Figures of days [first_day, end_day) of one candidate."""
    parts = Parts([], [])
    parts.add(ev, data, first_day, end_day)
    return parts.measure(data.ppy)


def daily_returns(ev: Evaluation, data: PairData) -> np.ndarray:
    """The candidate's return on each day of the span."""
    prev = np.concatenate([[data.cash], ev.equity[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(prev > 0, ev.equity / prev - 1.0, 0.0)

"""The fast sweep path: evaluate many parameter sets of a signal strategy on one instrument in numba.

Same fill, cost and sizing conventions as the event engine (see `_sweep_kernel`); a parity test proves equal
trades and final equity. Supported: fixed spread, fixed slippage, any commission model, all-in / fraction /
units / risk sizing, fills at next open or at the close, no financing, quote currency = account currency.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from traderbot.backtest import _sweep_kernel as K
from traderbot.brokers.sim.costs import FixedSlippage, NoSlippage, VenueConfig
from traderbot.data.series import BarSeries
from traderbot.errors import UserError
from traderbot.model.instrument import Instrument
from traderbot.risk.sizing import Sizing, atr_distance
from traderbot.strategies.signal_strategy import SignalStrategy

NS_PER_DAY = 86_400_000_000_000


@dataclass
class SweepResult:
    params: list[dict[str, Any]]
    stats: np.ndarray  # (combos, N_STATS)
    bars: int

    def column(self, index: int) -> np.ndarray:
        return self.stats[:, index]


def build_cfg(
    inst: Instrument, venue: VenueConfig, sizing: Sizing, cash: Decimal, long_only: bool, ppy: int
) -> np.ndarray:
    """The simulator's settings as a float array, refusing what the sweep cannot mirror exactly."""
    plain = Sizing(sizing.method, sizing.value)
    if sizing.method not in ("fraction", "units", "risk") or sizing != plain:
        raise UserError(
            f"the sweep path mirrors all_in, fraction:F, units:N and plain risk:PCT sizing only, not "
            f"{sizing.describe()!r}: use one of those or `traderbot backtest`"
        )
    if not venue.financing.is_zero:
        raise UserError("the sweep path has no financing model: drop financing or use `traderbot backtest`")
    if isinstance(venue.slippage, FixedSlippage):
        slip = float(venue.slippage.pips * inst.pip_size)
    elif isinstance(venue.slippage, NoSlippage):
        slip = 0.0
    else:
        raise UserError(
            "the sweep path supports fixed slippage only: use --slippage-pips or `traderbot backtest`"
        )
    spread = float(venue.spread.pips * inst.pip_size)
    buy_add, sell_sub = (spread / 2, spread / 2) if venue.spread.price_side == "mid" else (spread, 0.0)
    c = venue.commission
    cfg = np.zeros(K.N_CFG)
    cfg[K.FILL_CLOSE] = 1.0 if venue.fill_on == "close" else 0.0
    cfg[K.BUY_ADD], cfg[K.SELL_SUB], cfg[K.SLIP] = buy_add, sell_sub, slip
    cfg[K.TICK], cfg[K.LOT] = float(inst.tick_size), float(inst.lot_size)
    cfg[K.PER_UNIT], cfg[K.PCT] = float(c.per_unit), float(c.pct_notional)
    cfg[K.PER_ORDER], cfg[K.MIN_FEE] = float(c.per_order), float(c.minimum)
    cfg[K.MULT], cfg[K.MARGIN] = float(inst.multiplier), float(inst.margin_rate)
    cfg[K.SIZING] = {"fraction": 0.0, "units": 1.0, "risk": 2.0}[sizing.method]
    cfg[K.SIZE_VALUE] = float(sizing.value)
    cfg[K.LONG_ONLY] = 1.0 if long_only else 0.0
    cfg[K.CASH] = float(cash)
    cfg[K.PPY] = ppy
    return cfg


def day_ends(series: BarSeries) -> tuple[np.ndarray, int]:
    """Marks the last bar of each UTC day (by close time) and the periods-per-year rule of the metrics."""
    tc = series.ts_close
    day = tc // NS_PER_DAY
    ends = np.append(day[1:] != day[:-1], True)
    days = np.append(day, series.ts[0] // NS_PER_DAY)
    weekend = np.any(((days + 3) % 7) >= 5)
    return ends, 365 if weekend else 252


def grid(spec: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(spec)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(spec[n] for n in names))]


def _prices(series: BarSeries, inst: Instrument) -> tuple[np.ndarray, ...]:
    """Data prices rounded to the instrument's precision, exactly as the event engine reads them."""
    p = inst.price_precision
    return tuple(
        np.round(a, p) if p < 12 else a for a in (series.open, series.high, series.low, series.close)
    )


def _signals(
    cls: type[SignalStrategy],
    params: dict[str, Any],
    arrays: tuple[np.ndarray, ...],
    inst: Instrument,
    tick: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    strat = cls(**params)
    if hasattr(strat, "pip_size"):
        strat.pip_size = float(inst.pip_size)
    o, h, lo, c, v = arrays
    sig = np.ascontiguousarray(strat.signals(o, h, lo, c, v), dtype=np.int8)
    dist = strat.exit_distances(o, h, lo, c)
    n = len(c)
    sl = np.full(n, np.nan)
    tp = np.full(n, np.nan)
    if dist is not None:
        direction = sig.astype(np.float64)
        sld, tpd = dist
        ok = sig != 0
        sl[ok & (sld > 0)] = np.round((c - direction * sld) / tick)[ok & (sld > 0)] * tick
        tp[ok & (tpd > 0)] = np.round((c + direction * tpd) / tick)[ok & (tpd > 0)] * tick
    return sig, sl, tp


def _risk_dist(series: BarSeries, sig: np.ndarray) -> np.ndarray:
    """2 x ATR(14) distance at each signal bar, computed exactly as the event engine's sizing does."""
    out = np.zeros(len(sig))
    for t in np.flatnonzero(sig):
        out[t] = float(
            Decimal(repr(2 * atr_distance(series.high[: t + 1], series.low[: t + 1], series.close[: t + 1])))
        )
    return out


def run_sweep(
    cls: type[SignalStrategy],
    inst: Instrument,
    series: BarSeries,
    param_sets: list[dict[str, Any]],
    *,
    venue: VenueConfig | None = None,
    sizing: Sizing | None = None,
    cash: Decimal = Decimal(10_000),
) -> SweepResult:
    """Stats for every parameter set (rows in the order given), evaluated in parallel."""
    if not param_sets:
        raise UserError("the parameter grid is empty: give at least one value per --grid")
    if not getattr(cls, "supports_sweep", False):
        raise UserError(f"strategy {cls.name} has no sweep path: use `traderbot backtest` per parameter set")
    venue = _sweepable(venue or VenueConfig())
    sizing = sizing or Sizing.parse("all_in")
    o, h, lo, c = _prices(series, inst)
    arrays = (o, h, lo, c, series.volume)
    ends, ppy = day_ends(series)
    tick = float(inst.tick_size)
    resolved = [cls(**p).params for p in param_sets]  # validates every set (names, ranges, relations)
    batch = getattr(cls, "batch_signals", None)
    if batch is not None:
        sig_m = batch(resolved, c)
        sls = tps = [np.full(len(c), np.nan)]
    else:
        sigs, sls, tps = [], [], []
        for p in resolved:
            sig, sl, tp = _signals(cls, p, arrays, inst, tick)
            sigs.append(sig)
            sls.append(sl)
            tps.append(tp)
        sig_m = np.ascontiguousarray(np.vstack(sigs))
    same_exits = all(np.isnan(s).all() for s in sls) and all(np.isnan(t).all() for t in tps)
    sl_m = np.vstack(sls[:1] if same_exits else sls)
    tp_m = np.vstack(tps[:1] if same_exits else tps)
    risk = (
        _risk_dist(series, np.any(sig_m != 0, axis=0).astype(np.int8))
        if sizing.method == "risk"
        else np.zeros(len(c))
    )
    stats = np.empty((len(resolved), K.N_STATS))
    flags = np.array([bool(p.get("long_only", False)) for p in resolved])
    for flag in np.unique(flags):  # long-only is a simulator setting: one pass per value in the grid
        rows = np.flatnonzero(flags == flag)
        cfg = build_cfg(inst, venue, sizing, cash, bool(flag), ppy)
        part_sl = sl_m if sl_m.shape[0] == 1 else sl_m[rows]
        part_tp = tp_m if tp_m.shape[0] == 1 else tp_m[rows]
        sig_rows = sig_m if len(rows) == len(resolved) else np.ascontiguousarray(sig_m[rows])
        stats[rows] = K.simulate_many(o, h, lo, c, sig_rows, part_sl, part_tp, risk, ends, cfg)
    return SweepResult(param_sets, stats, len(c))


def sweep_trades(
    cls: type[SignalStrategy],
    inst: Instrument,
    series: BarSeries,
    params: dict[str, Any],
    *,
    venue: VenueConfig | None = None,
    sizing: Sizing | None = None,
    cash: Decimal = Decimal(10_000),
) -> tuple[np.ndarray, pd.DataFrame]:
    """One parameter set with its trade list (for parity checks and reports)."""
    venue = _sweepable(venue or VenueConfig())
    sizing = sizing or Sizing.parse("all_in")
    o, h, lo, c = _prices(series, inst)
    ends, ppy = day_ends(series)
    sig, sl, tp = _signals(cls, params, (o, h, lo, c, series.volume), inst, float(inst.tick_size))
    risk = _risk_dist(series, sig) if sizing.method == "risk" else np.zeros(len(c))
    cfg = build_cfg(inst, venue, sizing, cash, bool(params.get("long_only", False)), ppy)
    rec = np.zeros((len(c) + 1, 7))
    stats = K.simulate(o, h, lo, c, sig, sl, tp, risk, ends, cfg, True, rec, np.zeros(0))
    n = int(stats[K.S_TRADES])
    r = rec[:n]
    ts = series.ts
    exit_ts = np.where(cfg[K.FILL_CLOSE] > 0, series.ts_close[r[:, 1].astype(int)], ts[r[:, 1].astype(int)])
    entry_ts = np.where(cfg[K.FILL_CLOSE] > 0, series.ts_close[r[:, 0].astype(int)], ts[r[:, 0].astype(int)])
    trades = pd.DataFrame(
        {
            "entry_time": pd.to_datetime(entry_ts, utc=True),
            "exit_time": pd.to_datetime(exit_ts, utc=True),
            "side": np.where(r[:, 2] > 0, "long", "short"),
            "quantity": r[:, 3],
            "entry_price": r[:, 4],
            "exit_price": r[:, 5],
            "pnl": r[:, 6],
        }
    )
    return stats, trades


def _sweepable(venue: VenueConfig) -> VenueConfig:
    """The sweep path mirrors the event engine's default venue only: refuse what it would silently ignore."""
    extra = venue.realism()
    if extra:
        raise UserError(
            f"the fast sweep path does not model {', '.join(extra)}; evaluate these settings with the event "
            "engine (`traderbot backtest`) or switch them off for the sweep"
        )
    return venue

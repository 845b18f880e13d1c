"""traderbot's own runners for the benchmark: the event engine and the numba sweep path.

Both run the shared strategy of `benchmarks.peers` (SMA 10/30 cross, long only, fills at the next open,
all in with units of 1e-8 and backtesting.py's `1 - 2**-52` equity fraction, no costs, cash 10,000). The timed
part starts from the in-memory peer DataFrame: conversion to our bars, engine set-up, indicators, the run,
and the result (equity curve, trades, metrics) are all included.
"""

from __future__ import annotations

import time
from decimal import Decimal

import numpy as np
import pandas as pd

from benchmarks.peers import CASH, FAST, FULL_EQUITY, SLOW, PeerResult
from traderbot.backtest import _sweep_kernel as K
from traderbot.backtest.runner import BacktestSpec, run_backtest
from traderbot.backtest.sweep import run_sweep
from traderbot.data.series import BarSeries
from traderbot.model.instrument import generic_instrument
from traderbot.risk.sizing import Sizing
from traderbot.strategies.sma_cross import SmaCross

NAME = "traderbot"
SIZING = Sizing("fraction", Decimal(repr(FULL_EQUITY)))
INSTRUMENT = generic_instrument("BENCH", lot_size=Decimal("1e-8"))


def _series(df: pd.DataFrame) -> BarSeries:
    """Our bars straight from the peer frame's arrays (its naive index is UTC, as in to_canonical)."""
    idx = pd.DatetimeIndex(df.index)
    ns = (idx.tz_convert("UTC") if idx.tz is not None else idx).as_unit("ns").asi8
    step = int(np.median(np.diff(ns))) // 1_000_000_000
    tf = {60: "1m", 3600: "1h", 86400: "1d"}.get(step, f"{max(step // 60, 1)}m")
    cols = [df[c].to_numpy(dtype=np.float64) for c in ("Open", "High", "Low", "Close", "Volume")]
    return BarSeries.from_arrays(INSTRUMENT.id, tf, ns, *cols)


def run(df: pd.DataFrame) -> PeerResult:
    """One event-engine backtest (the code that will trade live: risk and order management in the path)."""
    t0 = time.perf_counter()
    res = run_backtest(
        BacktestSpec(
            strategy=SmaCross,
            pairs=[(INSTRUMENT, _series(df))],
            sizing=SIZING,
            cash=Decimal(repr(CASH)),
            params={"fast": FAST, "slow": SLOW, "long_only": True},
        )
    )
    seconds = time.perf_counter() - t0
    trades = len(res.trades) + res.open_positions
    return PeerResult(NAME, len(df), seconds, trades, float(Decimal(res.final_equity_exact)))


def sweep(df: pd.DataFrame, combos: list[tuple[int, int]]) -> PeerResult:
    """All (fast, slow) combos on the numba sweep path (same fill and cost rules as the event engine)."""
    t0 = time.perf_counter()
    series = _series(df)
    sets = [{"fast": f, "slow": s, "long_only": True} for f, s in combos]
    res = run_sweep(SmaCross, INSTRUMENT, series, sets, sizing=SIZING, cash=Decimal(repr(CASH)))
    seconds = time.perf_counter() - t0
    trades = res.stats[:, K.S_TRADES] + res.stats[:, K.S_OPEN]
    finals = res.stats[:, K.S_FINAL]
    per_combo = {c: (int(n), float(f)) for c, n, f in zip(combos, trades, finals, strict=True)}
    return PeerResult(
        NAME,
        len(df),
        seconds,
        int(trades.sum()),
        float(finals.sum()),
        combos=len(combos),
        extra={"per_combo": per_combo},
    )

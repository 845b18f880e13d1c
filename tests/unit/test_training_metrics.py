"""window_stats, combine and objective against small examples computed by hand with plain Python."""

from __future__ import annotations

import math
import statistics
from dataclasses import fields
from itertools import pairwise

import numpy as np
import pytest

from traderbot.errors import UserError
from traderbot.training.metrics import (
    OBJECTIVES,
    WindowStats,
    combine,
    objective,
    stats_from_series,
    window_stats,
)

EQUITY = [100.0, 110.0, 99.0, 108.9]  # daily returns +10 %, -10 %, +10 %
PNL = [10.0, -5.0, 0.0, 20.0, -5.0]


def test_every_field_by_hand() -> None:
    s = window_stats(np.array(EQUITY), np.array(PNL), periods_per_year=252, hits=3, signals=5, base_hits=2.4)
    r = [0.1, -0.1, 0.1]
    assert s.days == 3 and s.trades == 5 and s.signals == 5
    assert s.total_return == pytest.approx(0.089)
    assert s.sharpe == pytest.approx(statistics.mean(r) / statistics.stdev(r) * math.sqrt(252))  # 4.583
    assert s.sharpe == pytest.approx(4.5826, abs=1e-4)
    downside = math.sqrt((0 + 0.01 + 0) / 3)
    assert s.sortino == pytest.approx(statistics.mean(r) / downside * math.sqrt(252))  # 9.165
    assert s.max_drawdown == pytest.approx(99 / 110 - 1)  # -10 %
    assert s.calmar == pytest.approx(0.089 / 0.1)  # not annualised
    assert s.profit_factor == pytest.approx(30 / 10)
    assert s.expectancy == pytest.approx(20 / 5)
    assert s.win_rate == pytest.approx(2 / 5)
    assert s.hit_rate == pytest.approx(3 / 5) and s.base_rate == pytest.approx(2.4 / 5)
    assert (s.wins, s.gross_win, s.gross_loss, s.hits, s.base_hits) == (2, 30.0, 10.0, 3, 2.4)


def test_start_equity_is_the_previous_window_end() -> None:
    s = window_stats(np.array([110.0, 99.0]), np.zeros(0), periods_per_year=365, start_equity=100.0)
    assert s.days == 2 and s.total_return == pytest.approx(-0.01)
    assert s.sharpe == pytest.approx(0.0)  # mean of +10 % and -10 % is 0
    without = window_stats(np.array([110.0, 99.0]), np.zeros(0), periods_per_year=365)
    assert without.days == 1 and without.total_return == pytest.approx(-0.1) and math.isnan(without.sharpe)


def test_undefined_figures_are_nan_or_inf() -> None:
    flat = window_stats(np.full(5, 100.0), np.zeros(0), periods_per_year=252)
    assert flat.total_return == 0.0 and flat.max_drawdown == 0.0
    for value in (flat.sharpe, flat.sortino, flat.calmar, flat.profit_factor, flat.expectancy, flat.win_rate):
        assert math.isnan(value)
    assert math.isnan(flat.hit_rate) and math.isnan(flat.base_rate)  # no signals
    rising = window_stats(np.array([100.0, 101.0, 103.0]), np.array([1.0, 2.0]), periods_per_year=252)
    assert rising.calmar == math.inf and rising.profit_factor == math.inf  # no drawdown, no loss
    assert math.isnan(rising.sortino)  # no downside deviation
    constant = stats_from_series(
        np.full(6, 0.01), np.zeros(0), periods_per_year=252, hits=0, signals=0, base_hits=0
    )
    assert math.isnan(constant.sharpe)  # zero variance


def test_ruin_stops_the_returns() -> None:
    s = window_stats(np.array([100.0, 50.0, 0.0, 10.0]), np.array([-50.0, -50.0]), periods_per_year=252)
    assert s.days == 2 and s.total_return == pytest.approx(-1.0) and s.max_drawdown == pytest.approx(-1.0)


def assert_same(a: WindowStats, b: WindowStats) -> None:
    for f in fields(WindowStats):
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert x == pytest.approx(y, rel=1e-9, abs=1e-12, nan_ok=True), f.name


def test_combine_equals_the_concatenated_series() -> None:
    rng = np.random.default_rng(7)
    returns = rng.normal(0.0005, 0.01, 40)
    returns[4], returns[12] = 0.05, -0.06  # peak in the first window, trough in the third
    pnl = rng.normal(2.0, 10.0, 40)
    cuts = [0, 5, 10, 20, 23, 40]
    parts = [
        stats_from_series(
            returns[a:b], pnl[a:b], periods_per_year=252, hits=a % 3, signals=b - a, base_hits=0.4 * a
        )
        for a, b in pairwise(cuts)
    ]
    whole = stats_from_series(
        returns,
        pnl,
        periods_per_year=252,
        hits=sum(p.hits for p in parts),
        signals=40,
        base_hits=sum(cuts[:-1]) * 0.4,
    )
    joined = combine(parts)
    assert_same(joined, whole)
    assert joined.max_drawdown < min(p.max_drawdown for p in parts)  # the drawdown spans a join
    equity = 1000.0 * np.cumprod(1.0 + returns)
    starts = [1000.0, *equity[[c - 1 for c in cuts[1:-1]]]]
    by_equity = [
        window_stats(
            equity[a:b],
            pnl[a:b],
            periods_per_year=252,
            start_equity=e0,
            hits=p.hits,
            signals=b - a,
            base_hits=p.base_hits,
        )
        for (a, b), e0, p in zip(pairwise(cuts), starts, parts, strict=True)
    ]
    assert_same(combine(by_equity), whole)


def test_combine_rejects_mixed_annualisation() -> None:
    a = stats_from_series(np.full(3, 0.01), np.zeros(0), periods_per_year=252, hits=0, signals=0, base_hits=0)
    b = stats_from_series(np.full(3, 0.01), np.zeros(0), periods_per_year=365, hits=0, signals=0, base_hits=0)
    with pytest.raises(ValueError, match="periods_per_year"):
        combine([a, b])


def test_objective_ranks_and_guards() -> None:
    good = window_stats(
        np.array(EQUITY), np.array(PNL), periods_per_year=252, hits=3, signals=5, base_hits=2.4
    )
    bad = window_stats(np.array([100.0, 90.0, 95.0, 85.0]), np.array([-3.0, 1.0]), periods_per_year=252)
    for name in ("sharpe", "sortino", "calmar", "profit_factor", "expectancy"):
        assert objective(good, name) > objective(bad, name), name
    assert objective(good, "hit_rate_above_base") == pytest.approx(0.6 - 0.48)
    assert objective(bad, "hit_rate_above_base") == -math.inf  # no signals: undefined
    assert objective(good, "sharpe", min_trades=5) == pytest.approx(good.sharpe)
    assert objective(good, "sharpe", min_trades=6) == -math.inf
    assert OBJECTIVES == ("sharpe", "sortino", "calmar", "profit_factor", "expectancy", "hit_rate_above_base")


def test_unknown_objective_lists_the_valid_ones() -> None:
    with pytest.raises(UserError) as err:
        objective(window_stats(np.array(EQUITY), np.zeros(0), periods_per_year=252), "cagr")
    assert str(err.value) == (
        "unknown objective 'cagr': choose one of sharpe, sortino, calmar, profit_factor, expectancy, "
        "hit_rate_above_base"
    )

"""quality_score bounds and direction, and one sentence per failed promotion condition."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from traderbot.training.metrics import WindowStats
from traderbot.training.overfitting import DeflatedSharpe, Pbo
from traderbot.training.quality import GateConfig, Quality, promotion_gate, quality_score

BASE = WindowStats(
    days=60, trades=120, total_return=0.08, sharpe=2.0, sortino=3.0, calmar=2.0, max_drawdown=-0.04,
    profit_factor=1.6, expectancy=3.1, win_rate=0.55, signals=200, hit_rate=0.56, base_rate=0.50,
)  # fmt: skip
GOOD_DSR = DeflatedSharpe(
    sharpe=0.15, sr0=0.05, psr=0.99, dsr=0.9, n_trials=200, n_obs=60, skew=0.0, kurtosis=3.0
)
GOOD_PBO = Pbo(
    pbo=0.1,
    logits=np.array([1.0]),
    n_splits=16,
    n_combinations=12870,
    oos_rank_median=0.8,
    degradation_slope=0.2,
)


def folds(returns: list[float], sharpe: float = 2.0) -> list[WindowStats]:
    return [replace(BASE, days=5, total_return=r, sharpe=sharpe) for r in returns]


GOOD_OOS_FOLDS = folds([0.01, 0.02, -0.005, 0.015, 0.01, 0.012, 0.008, -0.002, 0.02, 0.01])
GOOD_IS_FOLDS = folds([0.05] * 10, sharpe=2.2)


def good_quality() -> Quality:
    return quality_score(GOOD_IS_FOLDS, GOOD_OOS_FOLDS, BASE)


def gate(oos: WindowStats = BASE, **changes: object) -> list[str]:
    cfg = replace(GateConfig(require_beats_base_rate=True), **changes)  # type: ignore[arg-type]
    result = promotion_gate(oos, GOOD_OOS_FOLDS, good_quality(), GOOD_DSR, GOOD_PBO, cfg)
    assert result.passed == (not result.reasons)
    return result.reasons


def test_formula_by_hand() -> None:
    q = good_quality()
    oos = 0.5 * (1 + math.tanh(2.0 - 1.0))
    r = np.array([f.total_return for f in GOOD_OOS_FOLDS])
    stability = 0.5 * 0.8 + 0.5 * 0.5 * (1 + math.tanh(r.mean() / r.std(ddof=1)))
    gap = math.exp(-0.2 / 2)
    assert q.oos_component == pytest.approx(50 * oos)
    assert q.stability_component == pytest.approx(25 * stability)
    assert q.gap_component == pytest.approx(25 * gap)
    assert q.score == pytest.approx(50 * oos + 25 * stability + 25 * gap)
    assert q.details["profitable_folds_pct"] == pytest.approx(80.0) and q.details[
        "sharpe_gap"
    ] == pytest.approx(0.2)


def test_score_bounds() -> None:
    best = quality_score(folds([0.1] * 5, sharpe=40.0), folds([0.1] * 5), replace(BASE, sharpe=50.0))
    worst = quality_score(folds([0.1] * 5, sharpe=40.0), folds([-0.1] * 5), replace(BASE, sharpe=-50.0))
    assert 99.0 < best.score <= 100.0 and 0.0 <= worst.score < 1.0
    empty = quality_score([], [], replace(BASE, sharpe=math.nan))
    assert 0.0 <= empty.score <= 100.0 and empty.gap_component == 0.0


def test_score_direction() -> None:
    scores = [
        quality_score(folds([0.01] * 8, sharpe=s), GOOD_OOS_FOLDS, BASE).score for s in (1.0, 2.0, 4.0, 8.0)
    ]
    assert (
        scores[0] == scores[1] > scores[2] > scores[3]
    )  # IS below OOS is no penalty; a bigger gap costs more
    by_oos = [
        quality_score(GOOD_IS_FOLDS, GOOD_OOS_FOLDS, replace(BASE, sharpe=s)).score for s in (-1, 0.5, 1.5)
    ]
    assert by_oos[0] < by_oos[1] < by_oos[2]
    by_share = [
        quality_score(GOOD_IS_FOLDS, folds([0.01] * k + [-0.01] * (10 - k)), BASE).score for k in (3, 6, 9)
    ]
    assert by_share[0] < by_share[1] < by_share[2]
    steady = quality_score(GOOD_IS_FOLDS, folds([0.01] * 10), BASE).score
    erratic = quality_score(
        GOOD_IS_FOLDS, folds([0.05, 0.001] * 5), BASE
    ).score  # same share, more dispersion
    assert steady > erratic


def test_a_clearly_good_result_passes() -> None:
    assert good_quality().score >= 50.0
    assert gate() == []


def test_each_failed_condition_has_its_sentence() -> None:
    assert gate(replace(BASE, trades=12)) == [
        "only 12 out-of-sample trades, fewer than the 30 needed to judge the result: "
        "train on more data or loosen the entry rules"
    ]
    assert gate(replace(BASE, sharpe=-0.35)) == ["out-of-sample Sharpe -0.35 is not above 0"]
    assert gate(replace(BASE, sharpe=math.nan)) == ["out-of-sample Sharpe nan is not above 0"]
    assert gate(replace(BASE, expectancy=-0.42)) == [
        "out-of-sample expectancy -0.42 USD per trade is not above 0 (after costs)"
    ]
    assert gate(replace(BASE, hit_rate=0.512, base_rate=0.519)) == [
        "hit rate 51.2 % does not beat the base rate 51.9 %"
    ]
    assert gate(replace(BASE, signals=0, hit_rate=math.nan, base_rate=math.nan)) == [
        "no out-of-sample signals, so the hit rate cannot be compared with the base rate"
    ]
    assert gate(replace(BASE, hit_rate=0.4), require_beats_base_rate=False) == []
    assert gate(min_profitable_folds_pct=90.0) == [
        "80.0 % of the 10 out-of-sample folds were profitable, below the 90.0 % required"
    ]
    assert gate(min_quality=99.0) == [f"quality score {good_quality().score:.1f} is below the 99.0 required"]
    assert gate(replace(BASE, expectancy=-1.0), currency="EUR")[0].startswith(
        "out-of-sample expectancy -1.00 EUR"
    )


def test_overfitting_reasons() -> None:
    cfg = GateConfig()
    bad_pbo = replace(GOOD_PBO, pbo=0.62)
    reasons = promotion_gate(BASE, GOOD_OOS_FOLDS, good_quality(), GOOD_DSR, bad_pbo, cfg).reasons
    assert reasons == [
        "PBO 0.62 > 0.50: the best in-sample parameters are more likely than not to underperform out of sample"
    ]
    strict = promotion_gate(BASE, GOOD_OOS_FOLDS, good_quality(), GOOD_DSR, replace(GOOD_PBO, pbo=0.4),
                            replace(cfg, max_pbo=0.3)).reasons  # fmt: skip
    assert strict == [
        "PBO 0.40 > 0.30: the best in-sample parameters too often rank below the median out of sample"
    ]
    bad_dsr = replace(GOOD_DSR, dsr=0.31, sharpe=0.08, sr0=0.12)
    assert promotion_gate(BASE, GOOD_OOS_FOLDS, good_quality(), bad_dsr, None, cfg).reasons == [
        "deflated Sharpe ratio 0.31 < 0.50: after 200 trials the Sharpe 0.080 per period is not convincingly "
        "above the 0.120 expected from luck alone"
    ]
    assert promotion_gate(
        BASE, GOOD_OOS_FOLDS, good_quality(), None, None, cfg
    ).passed  # not computed: skipped


def test_every_failure_is_reported_at_once() -> None:
    awful = replace(BASE, trades=3, sharpe=-1.0, expectancy=-2.0, hit_rate=0.4)
    q = quality_score(GOOD_IS_FOLDS, folds([-0.01] * 10), awful)
    result = promotion_gate(awful, folds([-0.01] * 10), q, replace(GOOD_DSR, dsr=0.1), replace(GOOD_PBO, pbo=0.9),
                            GateConfig(require_beats_base_rate=True))  # fmt: skip
    assert not result.passed and len(result.reasons) == 8
    assert promotion_gate(BASE, [], good_quality(), None, None, GateConfig()).reasons == [
        "there are no out-of-sample folds: nothing was tested out of sample"
    ]

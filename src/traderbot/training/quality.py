"""One 0..100 quality score of a walk-forward result and the gate a pair must pass to be promoted (`ready`).

The gate follows the "What to report" rules of the QFH spec (specs/qfh.md): out of sample, after costs,
beating the base rate where asked, with overfitting measured by the deflated Sharpe ratio and the PBO
(see `overfitting`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from traderbot.training.metrics import WindowStats
from traderbot.training.overfitting import DeflatedSharpe, Pbo

__all__ = ["GateConfig", "GateResult", "Quality", "promotion_gate", "quality_score"]

WEIGHTS = {"oos": 50.0, "stability": 25.0, "gap": 25.0}
OOS_SHARPE_MID = 1.0  # the annualised OOS Sharpe that scores half of the OOS component
GAP_SCALE = 2.0  # an IS-OOS Sharpe gap of this size keeps 1/e of the gap component


@dataclass(frozen=True)
class GateConfig:
    """Promotion thresholds; every out-of-sample figure is after spread and commission."""

    min_oos_trades: int = 30
    min_oos_sharpe: float = 0.0
    min_oos_expectancy: float = 0.0
    require_beats_base_rate: bool = False  # True for QFH: its hit rate must beat the chance rate
    min_profitable_folds_pct: float = 50.0
    max_pbo: float = 0.5
    min_dsr: float = 0.5
    min_quality: float = 50.0
    currency: str = "USD"  # of the account, only for the wording of the expectancy reason


@dataclass(frozen=True)
class Quality:
    """score = oos_component + stability_component + gap_component (points, see `quality_score`)."""

    score: float
    oos_component: float
    stability_component: float
    gap_component: float
    details: dict[str, float]


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: list[str]


def _finite(values: Sequence[float]) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    return a[np.isfinite(a)]


def _consistency(fold_returns: np.ndarray) -> float:
    """0..1 from the fold returns' mean/std: 0.5 * (1 + tanh(mean / std)); a zero std gives 1, 0.5 or 0."""
    if fold_returns.size == 0:
        return 0.0
    mean = float(fold_returns.mean())
    std = float(fold_returns.std(ddof=1)) if fold_returns.size >= 2 else 0.0
    if std <= 1e-12:
        return 1.0 if mean > 0 else (0.5 if mean == 0 else 0.0)
    return 0.5 * (1.0 + math.tanh(mean / std))


def quality_score(
    is_folds: Sequence[WindowStats], oos_folds: Sequence[WindowStats], oos_total: WindowStats
) -> Quality:
    """Quality 0..100 = 50 * OOS + 25 * stability + 25 * gap, each term in 0..1:

    - OOS = 0.5 * (1 + tanh(S_oos - 1)), S_oos the annualised Sharpe of `oos_total` (0 if NaN): 0.12 at S = 0,
      0.5 at S = 1, 0.88 at S = 2.
    - stability = 0.5 * p + 0.5 * 0.5 * (1 + tanh(mean_k / std_k)), p the share of OOS folds with a positive
      return and mean_k / std_k (ddof=1) over the OOS fold returns (consistency, penalising dispersion).
    - gap = exp(-max(S_is - S_oos, 0) / 2), S_is the mean in-sample Sharpe of the folds' chosen parameters: an
      IS-to-OOS drop of 2 Sharpe units keeps 37 %; no IS figure (or no OOS Sharpe) gives 0.
    """
    s_oos = oos_total.sharpe
    oos = 0.5 * (1.0 + math.tanh((s_oos if math.isfinite(s_oos) else 0.0) - OOS_SHARPE_MID))
    fold_ret = _finite([w.total_return for w in oos_folds])
    profitable = float(np.sum(fold_ret > 0)) / len(oos_folds) if oos_folds else 0.0  # NaN: not profitable
    stability = 0.5 * profitable + 0.5 * _consistency(fold_ret)
    is_sharpes = _finite([w.sharpe for w in is_folds])
    s_is = float(is_sharpes.mean()) if is_sharpes.size else math.nan
    gap_value = s_is - s_oos
    gap = math.exp(-max(gap_value, 0.0) / GAP_SCALE) if math.isfinite(gap_value) else 0.0
    parts = (WEIGHTS["oos"] * oos, WEIGHTS["stability"] * stability, WEIGHTS["gap"] * gap)
    details = {
        "oos_sharpe": s_oos,
        "is_sharpe_mean": s_is,
        "sharpe_gap": gap_value,
        "profitable_folds_pct": 100.0 * profitable,
        "fold_return_mean": float(fold_ret.mean()) if fold_ret.size else math.nan,
        "fold_return_std": float(fold_ret.std(ddof=1)) if fold_ret.size >= 2 else math.nan,
    }
    return Quality(float(min(max(sum(parts), 0.0), 100.0)), *parts, details=details)


def _performance_reasons(oos: WindowStats, config: GateConfig) -> list[str]:
    reasons: list[str] = []
    if oos.trades < config.min_oos_trades:
        reasons.append(
            f"only {oos.trades} out-of-sample trades, fewer than the {config.min_oos_trades} needed to judge "
            "the result: train on more data or loosen the entry rules"
        )
    if not oos.sharpe > config.min_oos_sharpe:
        reasons.append(f"out-of-sample Sharpe {oos.sharpe:.2f} is not above {config.min_oos_sharpe:g}")
    if not oos.expectancy > config.min_oos_expectancy:
        reasons.append(
            f"out-of-sample expectancy {oos.expectancy:.2f} {config.currency} per trade is not above "
            f"{config.min_oos_expectancy:g} (after costs)"
        )
    if config.require_beats_base_rate:
        if oos.signals == 0 or not math.isfinite(oos.hit_rate - oos.base_rate):
            reasons.append("no out-of-sample signals, so the hit rate cannot be compared with the base rate")
        elif not oos.hit_rate > oos.base_rate:
            reasons.append(
                f"hit rate {100 * oos.hit_rate:.1f} % does not beat the base rate {100 * oos.base_rate:.1f} %"
            )
    return reasons


def _robustness_reasons(
    oos_folds: Sequence[WindowStats],
    quality: Quality,
    dsr: DeflatedSharpe | None,
    pbo: Pbo | None,
    cfg: GateConfig,
) -> list[str]:
    reasons: list[str] = []
    if not oos_folds:
        reasons.append("there are no out-of-sample folds: nothing was tested out of sample")
    else:
        pct = 100.0 * sum(1 for w in oos_folds if w.total_return > 0) / len(oos_folds)
        if pct < cfg.min_profitable_folds_pct:
            reasons.append(
                f"{pct:.1f} % of the {len(oos_folds)} out-of-sample folds were profitable, below the "
                f"{cfg.min_profitable_folds_pct:.1f} % required"
            )
    if pbo is not None and not pbo.pbo <= cfg.max_pbo:
        tail = (
            "the best in-sample parameters are more likely than not to underperform out of sample"
            if pbo.pbo > 0.5 or math.isnan(pbo.pbo)
            else "the best in-sample parameters too often rank below the median out of sample"
        )
        reasons.append(f"PBO {pbo.pbo:.2f} > {cfg.max_pbo:.2f}: {tail}")
    if dsr is not None and not dsr.dsr >= cfg.min_dsr:
        reasons.append(
            f"deflated Sharpe ratio {dsr.dsr:.2f} < {cfg.min_dsr:.2f}: after {dsr.n_trials} trials the Sharpe "
            f"{dsr.sharpe:.3f} per period is not convincingly above the {dsr.sr0:.3f} expected from luck alone"
        )
    if not quality.score >= cfg.min_quality:
        reasons.append(f"quality score {quality.score:.1f} is below the {cfg.min_quality:.1f} required")
    return reasons


def promotion_gate(
    oos_total: WindowStats,
    oos_folds: Sequence[WindowStats],
    quality: Quality,
    dsr: DeflatedSharpe | None,
    pbo: Pbo | None,
    config: GateConfig,
) -> GateResult:
    """Every failed promotion condition as one sentence with its numbers; passed = no reasons.

    Strict thresholds: OOS Sharpe > min, expectancy > min, hit rate > base rate; inclusive: trades >= min,
    profitable folds % >= min, PBO <= max, DSR >= min, quality >= min. NaN fails. `dsr`/`pbo` None = not
    computed (too little data), so those checks are skipped.
    """
    reasons = _performance_reasons(oos_total, config)
    reasons += _robustness_reasons(oos_folds, quality, dsr, pbo, config)
    return GateResult(passed=not reasons, reasons=reasons)

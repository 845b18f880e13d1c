"""How much of a search's best result is luck: the deflated Sharpe ratio and the probability of backtest overfitting.

- Probabilistic and deflated Sharpe ratio: Bailey & Lopez de Prado, "The Deflated Sharpe Ratio: Correcting for
  Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5), 2014.
- PBO by combinatorially symmetric cross-validation (CSCV): Bailey, Borwein, Lopez de Prado & Zhu, "The
  Probability of Backtest Overfitting", Journal of Computational Finance 20(4), 2017 (SSRN 2326253, 2015).

Sharpe ratios here are per period (not annualised): SR = mean(r) / std(r, ddof=1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import stats as st

from traderbot.errors import UserError

__all__ = [
    "DeflatedSharpe",
    "Pbo",
    "deflated_sharpe",
    "expected_max_sharpe",
    "pbo_cscv",
    "probabilistic_sharpe",
]

NAN = math.nan
_REL_STD_EPSILON = 1e-7  # a std below this fraction of the RMS is rounding noise of a constant series


@dataclass(frozen=True)
class DeflatedSharpe:
    """sharpe: per-period SR of the selected returns; sr0: the best SR expected from n_trials luck-only trials;
    psr = P(true SR > 0); dsr = P(true SR > sr0); skew and kurtosis (not excess) of the returns."""

    sharpe: float
    sr0: float
    psr: float
    dsr: float
    n_trials: int
    n_obs: int
    skew: float
    kurtosis: float


def expected_max_sharpe(n_trials: int, var_sharpe: float) -> float:
    """E[max SR] of `n_trials` independent zero-skill trials whose SRs have variance `var_sharpe`:
    SR0 = sqrt(V) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e))), g = Euler-Mascheroni constant
    (Bailey & Lopez de Prado 2014, eq. after the False Strategy theorem). One trial: no selection, SR0 = 0."""
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if not (var_sharpe >= 0 and math.isfinite(var_sharpe)):
        raise ValueError(f"var_sharpe must be a finite number >= 0, got {var_sharpe}")
    if n_trials == 1:
        return 0.0
    g = float(np.euler_gamma)
    z1 = float(st.norm.ppf(1.0 - 1.0 / n_trials))
    z2 = float(st.norm.ppf(1.0 - 1.0 / (n_trials * math.e)))
    return math.sqrt(var_sharpe) * ((1.0 - g) * z1 + g * z2)


def probabilistic_sharpe(sr: float, sr0: float, n_obs: int, skew: float, kurtosis: float) -> float:
    """PSR = Phi((SR - SR0) * sqrt(n - 1) / sqrt(1 - skew * SR + (kurtosis - 1) / 4 * SR^2)), per-period SR,
    kurtosis NOT excess (3 for normal returns). NaN when undefined (n < 2, a non-positive variance term)."""
    if n_obs < 2 or not all(math.isfinite(x) for x in (sr, sr0, skew, kurtosis)):
        return NAN
    var_term = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if var_term <= 0:
        return NAN
    return float(st.norm.cdf((sr - sr0) * math.sqrt(n_obs - 1) / math.sqrt(var_term)))


def deflated_sharpe(returns: np.ndarray, trial_sharpes: np.ndarray) -> DeflatedSharpe:
    """DSR = PSR(SR0) of the selected strategy's per-period `returns`, SR0 = expected_max_sharpe(N, V) with N the
    number of finite `trial_sharpes` (every trial tried, per-period SR) and V their variance (ddof=1).
    Skewness and kurtosis are the moment estimators (scipy.stats.skew / kurtosis(fisher=False), bias=True)."""
    r = np.asarray(returns, dtype=np.float64).ravel()
    r = r[np.isfinite(r)]
    trials = np.asarray(trial_sharpes, dtype=np.float64).ravel()
    trials = trials[np.isfinite(trials)]
    n_trials = max(int(trials.size), 1)
    var_sr = float(np.var(trials, ddof=1)) if trials.size >= 2 else 0.0
    sr0 = expected_max_sharpe(n_trials, var_sr)
    sr = skew = kurt = NAN
    if r.size >= 2:
        std = float(np.std(r, ddof=1))
        if std > _REL_STD_EPSILON * math.sqrt(float(np.mean(r * r))):
            sr = float(np.mean(r)) / std
            skew = float(st.skew(r))
            kurt = float(st.kurtosis(r, fisher=False))
    return DeflatedSharpe(
        sharpe=sr,
        sr0=sr0,
        psr=probabilistic_sharpe(sr, 0.0, int(r.size), skew, kurt),
        dsr=probabilistic_sharpe(sr, sr0, int(r.size), skew, kurt),
        n_trials=n_trials,
        n_obs=int(r.size),
        skew=skew,
        kurtosis=kurt,
    )


@dataclass(frozen=True, eq=False)
class Pbo:
    """pbo: share of CSCV splits whose in-sample best trial ranks at or below the out-of-sample median;
    logits: ln(w / (1 - w)) per split, w = relative OOS rank of that trial (rank / (N + 1), best = N);
    oos_rank_median: median of w (0.5 = a coin flip); degradation_slope: least-squares slope of the selected
    trial's OOS metric on its IS metric across splits (negative = the better IS, the worse OOS)."""

    pbo: float
    logits: np.ndarray
    n_splits: int
    n_combinations: int
    oos_rank_median: float
    degradation_slope: float


def _sharpe_by_mask(perf: np.ndarray, row_block: np.ndarray, n_splits: int, mask: np.ndarray) -> np.ndarray:
    """Per-column mean/std(ddof=1) of the rows whose block is in each mask row: (C, N), vectorised by block sums."""
    onehot = np.zeros((n_splits, perf.shape[0]))
    onehot[row_block, np.arange(perf.shape[0])] = 1.0
    m = mask.astype(np.float64)
    count = m @ onehot.sum(axis=1)
    total = m @ (onehot @ perf)
    total_sq = m @ (onehot @ (perf * perf))
    mean = total / count[:, None]
    var = np.maximum(total_sq - count[:, None] * mean * mean, 0.0) / (count[:, None] - 1.0)
    std = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        rms = np.sqrt(total_sq / count[:, None])
        return np.where(std > _REL_STD_EPSILON * rms, mean / std, np.nan)


def _metric_by_mask(
    perf: np.ndarray, row_block: np.ndarray, mask: np.ndarray, metric: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """metric(rows of the masked blocks) for every mask row: (C, N)."""
    out = np.empty((mask.shape[0], perf.shape[1]))
    for c in range(mask.shape[0]):
        values = np.asarray(metric(perf[mask[c, row_block]]), dtype=np.float64).ravel()
        if values.shape != (perf.shape[1],):
            raise ValueError(
                f"metric must return one value per trial ({perf.shape[1]}), got shape {values.shape}"
            )
        out[c] = values
    return out


def _check_pbo_input(perf: np.ndarray, n_splits: int) -> None:
    if perf.ndim != 2:
        raise UserError(
            f"PBO needs a 2-D matrix of returns (rows: periods, columns: trials), got {perf.ndim}-D"
        )
    if n_splits < 2 or n_splits % 2:
        raise UserError(f"PBO n_splits must be an even number >= 2, got {n_splits}: use e.g. 8 or 16")
    if perf.shape[0] < n_splits:
        raise UserError(
            f"{perf.shape[0]} return periods cannot be split into {n_splits} PBO blocks: "
            "use more data or fewer splits"
        )
    if perf.shape[1] < 2:
        raise UserError(f"PBO compares trials, but only {perf.shape[1]} was given: run at least 2 trials")
    if not np.all(np.isfinite(perf)):
        raise UserError(
            "the PBO return matrix holds NaN or infinite values: fill or drop those periods first"
        )


def pbo_cscv(
    perf: np.ndarray, n_splits: int = 16, metric: Callable[[np.ndarray], np.ndarray] | None = None
) -> Pbo:
    """Probability of backtest overfitting by CSCV (Bailey, Borwein, Lopez de Prado & Zhu 2015).

    `perf` is T periods x N trials of per-period returns. Rows are cut into `n_splits` contiguous blocks (sizes
    differ by at most one row); each of the C(S, S/2) choices of S/2 blocks is in-sample, the rest out-of-sample.
    In each split the trial with the best in-sample `metric` (default: per-column Sharpe mean/std) is taken; w is
    its OOS rank among all trials (1 = worst, N = best, ties averaged) / (N + 1); logit = ln(w / (1 - w)).
    PBO = share of logits <= 0. An undefined metric (zero variance) ranks last.
    """
    m = np.asarray(perf, dtype=np.float64)
    _check_pbo_input(m, n_splits)
    n_rows, n_trials = m.shape
    row_block = np.repeat(np.arange(n_splits), [len(b) for b in np.array_split(np.arange(n_rows), n_splits)])
    chosen = np.array(list(combinations(range(n_splits), n_splits // 2)), dtype=np.int64)
    is_mask = np.zeros((len(chosen), n_splits), dtype=bool)
    is_mask[np.arange(len(chosen))[:, None], chosen] = True
    if metric is None:
        is_perf = _sharpe_by_mask(m, row_block, n_splits, is_mask)
        oos_perf = _sharpe_by_mask(m, row_block, n_splits, ~is_mask)
    else:
        is_perf = _metric_by_mask(m, row_block, is_mask, metric)
        oos_perf = _metric_by_mask(m, row_block, ~is_mask, metric)
    is_perf = np.where(np.isnan(is_perf), -np.inf, is_perf)
    oos_perf = np.where(np.isnan(oos_perf), -np.inf, oos_perf)
    rows = np.arange(len(chosen))
    best = np.argmax(is_perf, axis=1)
    sel_oos = oos_perf[rows, best]
    below = np.sum(oos_perf < sel_oos[:, None], axis=1)
    ties = np.sum(oos_perf == sel_oos[:, None], axis=1) - 1
    omega = (1.0 + below + 0.5 * ties) / (n_trials + 1.0)
    logits = np.log(omega / (1.0 - omega))
    return Pbo(
        pbo=float(np.mean(logits <= 0.0)),
        logits=logits,
        n_splits=n_splits,
        n_combinations=len(chosen),
        oos_rank_median=float(np.median(omega)),
        degradation_slope=_slope(is_perf[rows, best], sel_oos),
    )


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y on x over the finite pairs; NaN with < 2 pairs or no spread in x."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2:
        return NAN
    dx = x - x.mean()
    sxx = float(np.dot(dx, dx))
    return float(np.dot(dx, y - y.mean()) / sxx) if sxx > 0 else NAN

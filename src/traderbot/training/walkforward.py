"""Walk-forward selection over a pool of evaluated candidates.

For each fold, the candidate with the best objective on the fold's training weeks is chosen, and its figures on
the following test week are its out-of-sample result; the test weeks put together are the out-of-sample record of
the whole procedure ("re-train every week on the last k weeks"). The parameters finally deployed come from the
same rule applied to the last k weeks of data, so the procedure validated is the procedure deployed. Selection
reads only the training days of its fold (the candidates' figures up to a day depend only on bars closed by
then), so nothing after a test week's start influences its choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from traderbot.errors import UserError
from traderbot.training.evaluate import Evaluation, PairData, Parts, daily_returns, window
from traderbot.training.folds import Fold
from traderbot.training.metrics import WindowStats, objective


@dataclass(frozen=True)
class FoldResult:
    fold: Fold
    chosen: int  # index in the candidate pool; -1 when no candidate met the minimum trades (the pair sat out)
    in_sample: WindowStats | None  # the chosen candidate on its training weeks
    out_of_sample: WindowStats


@dataclass(frozen=True)
class WalkForward:
    objective: str
    folds: list[FoldResult]
    oos_total: WindowStats  # the test weeks together
    is_mean: dict[str, float]  # the chosen candidates' in-sample figures, averaged over folds
    oos_returns: np.ndarray  # daily returns of the out-of-sample record
    test_days: tuple[int, int]  # day range covered by the test weeks
    deploy: int  # the candidate chosen on the last training window (-1: none qualified)
    deploy_in_sample: WindowStats | None


def day_range(data: PairData, start_ns: int, end_ns: int) -> tuple[int, int]:
    """Days whose last bar closed in [start_ns, end_ns)."""
    a = int(np.searchsorted(data.day_ns, start_ns, side="left"))
    b = int(np.searchsorted(data.day_ns, end_ns, side="left"))
    return a, b


def best(
    pool: list[Evaluation], data: PairData, days: tuple[int, int], name: str, min_trades: int
) -> tuple[int, WindowStats | None]:
    """The candidate with the highest objective on the days (ties: the earlier one); -1 if none qualifies."""
    best_i, best_v, best_s = -1, -np.inf, None
    for i, ev in enumerate(pool):
        stats = window(ev, data, *days)
        value = objective(stats, name, min_trades=min_trades)
        if value > best_v:
            best_i, best_v, best_s = i, value, stats
    return best_i, best_s


def walk_forward(
    pool: list[Evaluation],
    data: PairData,
    folds: list[Fold],
    *,
    name: str,
    min_trades: int,
    final_train: tuple[int, int],
) -> WalkForward:
    if not pool:
        raise UserError("no candidate could be evaluated: check the training space (every trial failed)")
    results: list[FoldResult] = []
    total = Parts([], [])
    for fold in folds:
        train = day_range(data, fold.train_start, fold.train_end)
        test = day_range(data, fold.test_start, fold.test_end)
        chosen, is_stats = best(pool, data, train, name, min_trades)
        part = Parts([], [])
        if chosen < 0:
            part.add_flat(*test)
            total.add_flat(*test)
        else:
            part.add(pool[chosen], data, *test)
            total.add(pool[chosen], data, *test)
        results.append(FoldResult(fold, chosen, is_stats, part.measure(data.ppy)))
    deploy, deploy_is = best(pool, data, final_train, name, min_trades)
    first = day_range(data, folds[0].test_start, folds[0].test_end)[0]
    last = day_range(data, folds[-1].test_start, folds[-1].test_end)[1]
    return WalkForward(
        name, results, total.measure(data.ppy), _mean_in_sample(results), np.concatenate(total.returns),
        (first, last), deploy, deploy_is,
    )  # fmt: skip


def _mean_in_sample(results: list[FoldResult]) -> dict[str, float]:
    chosen = [r.in_sample for r in results if r.in_sample is not None]
    keys = (
        "sharpe",
        "sortino",
        "total_return",
        "profit_factor",
        "expectancy",
        "win_rate",
        "hit_rate",
        "base_rate",
    )
    out: dict[str, float] = {}
    for k in keys:
        vals = np.array([getattr(s, k) for s in chosen], dtype=np.float64)
        vals = vals[np.isfinite(vals)]
        out[k] = float(vals.mean()) if len(vals) else float("nan")
    out["trades"] = float(np.mean([s.trades for s in chosen])) if chosen else 0.0
    return out


def returns_matrix(pool: list[Evaluation], data: PairData, days: tuple[int, int]) -> np.ndarray:
    """Daily returns of every candidate over the days (rows: days, columns: candidates), for the PBO."""
    a, b = days
    return np.column_stack([daily_returns(ev, data)[a:b] for ev in pool])


def as_dict(stats: WindowStats | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    return {k: (None if isinstance(v, float) and not np.isfinite(v) and not np.isinf(v) else v)
            for k, v in stats.__dict__.items()}  # fmt: skip

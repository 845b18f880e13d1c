"""Train one pair: search its parameters, validate walk-forward, and judge it against the promotion gate.

`train_pair(payload, report)` is the job function the training manager runs in a worker process (or on Ray):
payload is plain JSON (see `TrainSpec`), `report(fraction, message)` shows progress, and the result is a JSON
dict with the deployed parameters, in-sample figures beside out-of-sample ones, every fold, the deflated Sharpe
ratio, the probability of backtest overfitting and the gate's verdict with its reasons.

The search is an Optuna study whose sampler draws candidates without looking at results (quasi-random Sobol
points by default, or plain random), so one pool of candidates serves every fold without letting later weeks
steer which candidates an earlier fold could choose from. Each fold then picks its best candidate on its own
training weeks only (`walkforward.py`).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from traderbot.backtest.sweep import _sweepable, build_cfg
from traderbot.brokers.sim.costs import VenueConfig
from traderbot.data.series import BarSeries
from traderbot.errors import UserError
from traderbot.model.instrument import AssetClass, Instrument, get_instrument
from traderbot.risk.sizing import Sizing
from traderbot.strategies.base import Strategy
from traderbot.strategies.registry import get_strategy
from traderbot.strategies.signal_strategy import SignalStrategy
from traderbot.training.evaluate import Evaluation, PairData, evaluate, evaluate_events, prepare
from traderbot.training.folds import WEEK_NS, week_start, weekly_folds
from traderbot.training.metrics import OBJECTIVES
from traderbot.training.overfitting import deflated_sharpe, pbo_cscv
from traderbot.training.quality import GateConfig, promotion_gate, quality_score
from traderbot.training.space import search_space
from traderbot.training.walkforward import as_dict, day_range, returns_matrix, walk_forward

Report = Callable[[float, str], None]


@dataclass(frozen=True)
class TrainSpec:
    """What to train (the job's payload). Dates are ISO strings; `data_dir` holds `<PAIR>_<tf>.parquet` files,
    else the bar store (`store`, default: the user store over the samples) is read."""

    pair: str
    strategy: str = "qfh"
    timeframe: str = "1m"
    start: str | None = None
    end: str | None = None
    data_dir: str | None = None
    store: str | None = None
    trials: int = 200
    objective: str = "sharpe"
    min_trades: int = 10
    train_weeks: int = 4
    mode: str = "rolling"
    sampler: str = "qmc"
    seed: int = 7
    space: dict[str, Any] = field(default_factory=dict)
    venue: dict[str, str] = field(default_factory=lambda: {"spread_pips": "1", "commission_pct": "0"})
    sizing: str = "all_in"
    cash: str = "10000"
    gate: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def from_payload(payload: dict[str, Any]) -> TrainSpec:
        known = set(TrainSpec.__dataclass_fields__)
        unknown = sorted(set(payload) - known)
        if unknown:
            raise UserError(
                f"unknown training setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}"
            )
        spec = TrainSpec(**payload)
        if spec.trials < 2:
            raise UserError(f"trials={spec.trials}: a search needs at least 2 trials (e.g. 200)")
        if spec.objective not in OBJECTIVES:
            raise UserError(f"unknown objective {spec.objective!r}: choose one of {', '.join(OBJECTIVES)}")
        if spec.sampler not in ("qmc", "random"):
            raise UserError(f"sampler {spec.sampler!r} is not valid: use qmc or random")
        spec.gate_config()  # checked now, not after the search
        return spec

    def gate_config(self) -> GateConfig:
        """The promotion thresholds: the defaults (for qfh, beating the base rate is required), then `gate`."""
        fields = GateConfig.__dataclass_fields__
        unknown = sorted(set(self.gate) - set(fields) - {"currency"})
        if unknown:
            valid = ", ".join(n for n in fields if n != "currency")
            raise UserError(f"unknown gate threshold(s) {', '.join(unknown)}; valid: {valid}")
        values: dict[str, Any] = {"require_beats_base_rate": self.strategy == "qfh"}
        for name, raw in self.gate.items():
            kind = type(getattr(GateConfig, name))
            try:
                values[name] = _as_bool(raw) if kind is bool else kind(raw)
            except (TypeError, ValueError):
                want = {int: "a whole number", float: "a number", bool: "true or false"}.get(
                    kind, kind.__name__
                )
                raise UserError(f"gate threshold {name}={raw!r} is not valid: give {want}") from None
        return GateConfig(**values)


def _as_bool(raw: Any) -> bool:
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def load_series(spec: TrainSpec, inst: Instrument) -> BarSeries:
    """The pair's bars in [start, end), from a data folder or the store; a clear error when there are none."""
    from traderbot.data.loader import load_ohlcv_file
    from traderbot.data.stores import open_stores

    if spec.data_dir:
        path = Path(spec.data_dir) / f"{inst.id}_{spec.timeframe}.parquet"
        if not path.is_file():
            raise UserError(
                f"no {spec.timeframe} data for {inst.id} in {spec.data_dir} (expected {path.name})"
            )
        df, _ = load_ohlcv_file(path, instrument=inst, timeframe=spec.timeframe)
    else:
        store = open_stores(spec.store)
        if not store.has(inst.id, spec.timeframe):
            raise UserError(store.missing_message(inst.id, spec.timeframe))
        df = store.read(inst.id, spec.timeframe)
    series = BarSeries.from_frame(df, inst.id, spec.timeframe)
    start = _ns(spec.start) if spec.start else None
    end = _ns(spec.end) if spec.end else None
    out = series.slice_time(start, end)
    if len(out) == 0:
        raise UserError(f"no {inst.id} bars between {spec.start or 'the start'} and {spec.end or 'the end'}")
    return out


def _ns(text: str) -> int:
    import pandas as pd

    ts = pd.Timestamp(text)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.as_unit("ns").value)


def _fast_path(cls: type[Strategy], inst: Instrument, venue: VenueConfig, sizing: Sizing) -> bool:
    """A signal strategy on settings the sweep path mirrors runs there; anything else on the event engine."""
    if not (issubclass(cls, SignalStrategy) and getattr(cls, "supports_sweep", False)):
        return False
    try:
        build_cfg(inst, _sweepable(venue), sizing, Decimal(10_000), False, 252)
    except UserError:
        return False
    return True


def candidates(
    cls: type[Strategy], spec: TrainSpec, data: PairData, report: Report, *, fast: bool = True
) -> tuple[list[Evaluation], list[str], optuna.Study]:
    """Evaluate `trials` candidates drawn by the study; failed trials are recorded with their reason."""
    dists, fixed = search_space(cls.parameters(), spec.space)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler: optuna.samplers.BaseSampler = (
            optuna.samplers.QMCSampler(
                qmc_type="sobol", scramble=True, seed=spec.seed, warn_independent_sampling=False
            )
            if spec.sampler == "qmc"
            else optuna.samplers.RandomSampler(seed=spec.seed)
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    pool: list[Evaluation] = []
    failures: list[str] = []
    for n in range(spec.trials):
        trial = study.ask(dists)
        params = {**fixed, **trial.params}
        try:
            ev = evaluate(cls, data, params) if fast else evaluate_events(cls, data, params)  # type: ignore[arg-type]
        except (UserError, ValueError) as exc:
            failures.append(f"trial {n}: {exc}")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            pool.append(ev)
            final = float(ev.equity[-1]) if len(ev.equity) else data.cash
            study.tell(trial, final / data.cash - 1.0)  # recorded only: the sampler does not read results
        report(0.05 + 0.85 * (n + 1) / spec.trials, f"trial {n + 1}/{spec.trials}")
    return pool, failures, study


def train_pair(payload: dict[str, Any], report: Report | None = None) -> dict[str, Any]:
    """The training job: see the module docstring. Raises UserError with a clear reason on bad input."""
    t0 = time.perf_counter()
    say: Report = report or (lambda _f, _m: None)
    spec = TrainSpec.from_payload(payload)
    try:
        inst = get_instrument(spec.pair)
    except KeyError as exc:
        raise UserError(f"{exc.args[0]}; add the pair's instrument first") from None
    cls = get_strategy(spec.strategy)
    series = load_series(spec, inst)
    say(0.01, f"{len(series):,} bars loaded")
    from traderbot.cli._market import venue_config

    venue = venue_config(fill="next_open", **{"spread_pips": "0", "commission_pct": "0", **spec.venue})
    sizing = Sizing.parse(spec.sizing)
    fast = _fast_path(cls, inst, venue, sizing)
    data = prepare(inst, series, venue=venue, sizing=sizing, cash=Decimal(spec.cash), fast=fast)
    first, last = _week_bounds(inst, int(series.ts[0]), int(series.ts_close[-1]))
    folds = weekly_folds(first, last, train_weeks=spec.train_weeks, mode=spec.mode)
    say(0.05, f"{len(folds)} weekly folds, {'sweep path' if fast else 'event engine'}")
    pool, failures, _ = candidates(cls, spec, data, say, fast=fast)
    final = day_range(data, week_start(last) - spec.train_weeks * WEEK_NS, week_start(last))
    wf = walk_forward(pool, data, folds, name=spec.objective, min_trades=spec.min_trades, final_train=final)
    say(0.92, "overfitting statistics")
    matrix = returns_matrix(pool, data, wf.test_days)
    trial_sr = _per_period_sharpes(matrix)
    dsr = deflated_sharpe(wf.oos_returns, trial_sr) if len(wf.oos_returns) > 2 else None
    splits = min(16, (matrix.shape[0] // 2) * 2)
    pbo = pbo_cscv(matrix, n_splits=splits) if splits >= 4 and matrix.shape[1] >= 2 else None
    is_folds = [r.in_sample for r in wf.folds if r.in_sample is not None]
    quality = quality_score(is_folds, [r.out_of_sample for r in wf.folds], wf.oos_total)
    gate_cfg = spec.gate_config()
    verdict = promotion_gate(wf.oos_total, [r.out_of_sample for r in wf.folds], quality, dsr, pbo, gate_cfg)
    if wf.deploy < 0:
        verdict = type(verdict)(
            False,
            [
                *verdict.reasons,
                "no candidate met the minimum trades on the last "
                f"{spec.train_weeks} weeks: nothing to deploy",
            ],
        )
    say(1.0, "done")
    return _result(
        spec, pool, failures, wf, dsr, pbo, quality, verdict, time.perf_counter() - t0, len(series)
    )


_DAY_NS = 86_400 * 10**9
_FRIDAY_EVENING_NS = 4 * 3_600 * 10**9  # FX shuts at 21:00 or 22:00 UTC on Friday, stocks earlier


def _week_bounds(inst: Instrument, first_ns: int, last_ns: int) -> tuple[int, int]:
    """The span as whole Saturday-to-Saturday weeks: a market that shuts at weekends has no bars from Friday
    evening to Sunday evening, so data starting by Monday or ending on Friday evening covers its week."""
    if inst.asset_class is AssetClass.CRYPTO:
        return first_ns, last_ns
    start = week_start(first_ns)
    if first_ns - start <= 2 * _DAY_NS:  # the first bar came by Monday 00:00
        first_ns = start
    if week_start(last_ns) + WEEK_NS - last_ns <= _FRIDAY_EVENING_NS:  # the last bar closed on Friday evening
        last_ns = week_start(last_ns) + WEEK_NS
    return first_ns, last_ns


def _per_period_sharpes(matrix: np.ndarray) -> np.ndarray:
    mean = matrix.mean(axis=0)
    sd = matrix.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sr = np.where(sd > 0, mean / sd, 0.0)
    return np.asarray(sr, dtype=np.float64)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None (the report prints them as n/a)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _clean(value.item())
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    return value


def _result(spec: TrainSpec, pool: list[Evaluation], failures: list[str], wf: Any, dsr: Any, pbo: Any,
            quality: Any, verdict: Any, seconds: float, bars: int) -> dict[str, Any]:  # fmt: skip
    deploy = pool[wf.deploy].params if wf.deploy >= 0 else None
    folds = [{"index": r.fold.index, "train_start": r.fold.train_start, "test_start": r.fold.test_start,
              "test_end": r.fold.test_end, "chosen": r.chosen,
              "params": pool[r.chosen].params if r.chosen >= 0 else None,
              "in_sample": as_dict(r.in_sample), "out_of_sample": as_dict(r.out_of_sample)}
             for r in wf.folds]  # fmt: skip
    return _clean({
        "pair": spec.pair, "strategy": spec.strategy, "timeframe": spec.timeframe, "bars": bars,
        "objective": spec.objective, "trials": spec.trials, "evaluated": len(pool), "failed_trials": failures[:20],
        "params": deploy, "deploy_in_sample": as_dict(wf.deploy_in_sample),
        "in_sample_mean": wf.is_mean, "in_sample": wf.is_mean, "out_of_sample": as_dict(wf.oos_total),
        "folds": folds,
        "deflated_sharpe": asdict(dsr) if dsr is not None else None,
        "pbo": {"pbo": pbo.pbo, "n_splits": pbo.n_splits, "n_combinations": pbo.n_combinations,
                "oos_rank_median": pbo.oos_rank_median, "degradation_slope": pbo.degradation_slope}
        if pbo is not None else None,
        "quality": asdict(quality), "oos_quality": quality.score,
        "gate": {"passed": verdict.passed, "reasons": verdict.reasons}, "seconds": seconds,
        "spec": asdict(spec),
    })  # fmt: skip

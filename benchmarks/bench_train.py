"""Per-pair training speed (issue 5): `qfh` on 6 months of real 1-minute bars, 200 trials, weekly walk-forward.

Data: ../shared/data/histdata_fx_m1, 2023-07-31 .. 2024-01-31 (~186,000 bars per pair). Settings: 200 candidates
drawn by Optuna's Sobol sampler over qfh's declared space, 4 training weeks per rolling fold and one test week,
objective Sharpe, 1 pip spread. Part 1 times `train_pair` on EURUSD in this process (median of 3 runs, each a
fresh search; the first run also pays numba's compile of any uncached kernel, so a warm-up run goes first).
Part 2 trains all 13 pairs of the set end to end through the training manager (SQLite queue, 2 local worker
processes, the registry following each job) and reports the wall time and each pair's outcome.
Target: one pair under 60 s on this 2-core machine.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_train.py [--skip-all]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from traderbot.training.pipeline import train_pair

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "histdata_fx_m1"
PAIRS = ["EURUSD", "GBPUSD", "USDJPY", "USDCHF", "AUDUSD", "USDCAD", "NZDUSD", "EURGBP", "AUDNZD", "USDHKD",
         "USDNOK", "XAGUSD", "XAUUSD"]  # fmt: skip
SPEC = {"data_dir": str(DATA), "start": "2023-07-31", "end": "2024-01-31", "trials": 200, "train_weeks": 4}


def one_pair() -> str:
    train_pair({**SPEC, "pair": "EURUSD", "trials": 10})  # warm-up: numba and imports
    times, res = [], {}
    for _ in range(3):
        t0 = time.perf_counter()
        res = train_pair({**SPEC, "pair": "EURUSD"})
        times.append(time.perf_counter() - t0)
    folds = len(res["folds"])
    return (
        f"train_one_pair: EURUSD qfh bars={res['bars']} trials=200 folds={folds} (weekly, 4 train weeks) "
        f"median_s={statistics.median(times):.1f} runs_s={','.join(f'{t:.1f}' for t in times)} (target < 60 s); "
        f"gate={'passed' if res['gate']['passed'] else 'refused'}"
    )


def all_pairs() -> str:
    from traderbot.cli.train_start import JOB_FN
    from traderbot.pairs.registry import PairRegistry
    from traderbot.store.db import open_engine, sqlite_url
    from traderbot.training.manager import TrainingManager
    from traderbot.training.registry_hooks import RegistryHooks

    with tempfile.TemporaryDirectory() as tmp:
        engine = open_engine(sqlite_url(Path(tmp) / "bench.db"))
        registry = PairRegistry(engine)
        for p in PAIRS:
            registry.add(p, actor="bench", reason="bench")
        t0 = time.perf_counter()
        with TrainingManager(engine, workers=2, hooks=RegistryHooks(registry)) as mgr:
            for p in PAIRS:
                mgr.submit(p, JOB_FN, {**SPEC, "pair": p}, timeout_s=900, max_attempts=1)
            mgr.run(until_idle=True)
        wall = time.perf_counter() - t0
        states = {r.pair: r.state.value for r in registry.list()}
        runs = {p: mgr.history(p)[-1] for p in PAIRS}
    durations = [r.duration_s or 0.0 for r in runs.values()]
    ready = sorted(p for p, s in states.items() if s == "ready")
    refused = sorted(p for p, s in states.items() if s == "failed" and runs[p].status == "succeeded")
    errors = sorted(p for p in PAIRS if runs[p].status != "succeeded")
    stuck = [p for p, s in states.items() if s == "training"]
    return (
        f"train_all_pairs: {len(PAIRS)} pairs, 2 local workers, wall_s={wall:.0f}; per-pair job "
        f"median_s={statistics.median(durations):.1f} max_s={max(durations):.1f}; ready={ready or 'none'}; "
        f"refused by the gate={refused or 'none'}; job errors={errors or 'none'}; stuck in training={stuck}"
    )


if __name__ == "__main__":
    print(one_pair(), flush=True)
    if "--skip-all" not in sys.argv:
        print(all_pairs(), flush=True)

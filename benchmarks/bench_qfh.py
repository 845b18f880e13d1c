"""Time all QFH features and signals over the ~350k-bar EURUSD M1 file (median of 5 runs after JIT warm-up).

Run: .venv/bin/python benchmarks/bench_qfh.py [path/to/bars.parquet] [pip_size]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import pandas as pd

from traderbot.indicators.qfh import qfh

DEFAULT_FILE = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "histdata_fx_m1" / "EURUSD_1m.parquet"
)
RUNS = 5


def main(argv: list[str]) -> None:
    """Load the bars once, warm the JIT up, then print the median wall time of RUNS full computations."""
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_FILE
    pip = float(argv[2]) if len(argv) > 2 else 0.0001
    df = pd.read_parquet(path, columns=["open", "high", "low", "close", "volume"])
    cols = [df[c].to_numpy() for c in ("open", "high", "low", "close")]
    qfh(*cols, pip_size=pip)  # compile (or load the numba cache)
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        qfh(*cols, pip_size=pip)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"qfh_features bars={len(df)} median_s={median:.4f} bars_per_s={len(df) / median:.0f}")


if __name__ == "__main__":
    main(sys.argv)

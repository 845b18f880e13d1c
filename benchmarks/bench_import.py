"""Benchmark: import one year of HistData M1 ASCII (about 350k lines) into a fresh store, median of 5 runs.

Run: .venv/bin/python benchmarks/bench_import.py [--source PARQUET] [--runs 5]
Prints: import_histdata_1y rows=N median_s=X   (then the same for resampling 1m -> 15m and 1m -> 1d)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from traderbot.data.ingest import import_file
from traderbot.data.resample import resample
from traderbot.data.store import ParquetBarStore

DEFAULT_SOURCE = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "histdata_fx_m1" / "EURUSD_1m.parquet"
)


def write_histdata_text(source: Path, target: Path) -> int:
    """Write HistData ASCII lines (stamps shifted to fixed UTC-5) from a canonical Parquet file."""
    df = pd.read_parquet(source)
    local = (df["ts"].dt.tz_convert(None) - pd.Timedelta(hours=5)).dt.strftime("%Y%m%d %H%M%S")
    cols = [local.to_numpy()]
    cols += [np.char.mod("%.6f", df[c].to_numpy()) for c in ("open", "high", "low", "close")]
    cols += [df["volume"].to_numpy().astype(np.int64).astype(str)]
    lines = [";".join(parts) for parts in zip(*cols, strict=True)]
    target.write_text("\n".join(lines) + "\n", encoding="ascii")
    return len(lines)


def time_runs(fn: Callable[[], object], runs: int) -> float:
    """Median wall time of `runs` calls of fn()."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Generate the input once, then time import and resampling."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "DAT_ASCII_EURUSD_M1_2023.csv"
        rows = write_histdata_text(args.source, text)
        counter = iter(range(10_000))

        def run_import() -> None:
            store = ParquetBarStore(Path(tmp) / f"store{next(counter)}")
            import_file(store, text, "histdata", instrument="EURUSD", timeframe="1m")

        print(f"import_histdata_1y rows={rows} median_s={time_runs(run_import, args.runs):.3f}")
        bars = ParquetBarStore(Path(tmp) / "store0").read("EURUSD", "1m")
        for target in ("15m", "1d"):
            median = time_runs(partial(resample, bars, "1m", target, instrument="EURUSD"), args.runs)
            print(f"resample_1m_to_{target} rows={len(bars)} median_s={median:.3f}")
        median = time_runs(lambda: ParquetBarStore(Path(tmp) / "store0").read("EURUSD", "1m"), args.runs)
        print(f"store_read_1y rows={len(bars)} median_s={median:.3f}")


if __name__ == "__main__":
    main()

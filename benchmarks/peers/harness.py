"""Timing and side-by-side report for the peer benchmarks.

    python -m benchmarks.peers.harness --repeats 3                 # all peers, eurusd/goog/gbm + sweeps
    python -m benchmarks.peers.harness --cases eurusd --engines vectorbt --no-sweep

traderbot plugs in as a `Runner` (pd.DataFrame -> PeerResult; the frame is a peer frame, see datasets.py)
and optionally a `SweepRunner`:

    rows = run_suite(runners={**peer_runners(), "traderbot": tb_run}, sweepers={..., "traderbot": tb_sweep})
    print(format_table(rows, ratio_vs="traderbot"))
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import pandas as pd

from . import SWEEP_COMBOS, PeerResult, Runner, SweepRunner
from .datasets import load_case

T = TypeVar("T")

BASELINE = "backtesting.py"  # parity reference
PEER_MODULES = {"backtesting.py": "bt_backtesting", "backtrader": "bt_backtrader", "vectorbt": "bt_vectorbt"}
WARMUP_BARS = 5_000  # warm-up runs on a slice: enough for numba to compile, cheap for pure-Python peers


def time_median(
    fn: Callable[[], T], repeats: int, warmup: bool | Callable[[], object] = True
) -> tuple[float, T]:
    """Call fn() `repeats` times after one untimed warm-up call (or `warmup()` if it is a callable).

    Each sample is the PeerResult's own `seconds` (the engine's backtest only) when fn returns one, else
    the wall time of the call. Returns (median seconds, last result); a PeerResult comes back with
    `seconds` = the median and the samples in extra["samples"].
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    if callable(warmup):
        warmup()
    elif warmup:
        fn()
    samples: list[float] = []
    result: T
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        wall = time.perf_counter() - t0
        samples.append(result.seconds if isinstance(result, PeerResult) else wall)
    median = statistics.median(samples)
    if isinstance(result, PeerResult):
        result = dataclasses.replace(result, seconds=median, extra={**result.extra, "samples": samples})
    return median, result


def peer_runners(names: Sequence[str] = tuple(PEER_MODULES)) -> dict[str, Runner]:
    """`run` of each named peer (imports backtesting / backtrader / vectorbt on demand)."""
    return {n: importlib.import_module(f".{PEER_MODULES[n]}", __package__).run for n in names}


def peer_sweepers(names: Sequence[str] = tuple(PEER_MODULES)) -> dict[str, SweepRunner]:
    """`sweep` of each named peer that has one (backtrader has none)."""
    out: dict[str, SweepRunner] = {}
    for n in names:
        mod = importlib.import_module(f".{PEER_MODULES[n]}", __package__)
        if hasattr(mod, "sweep"):
            out[n] = mod.sweep
    return out


Row = tuple[str, PeerResult]  # (case label, result)


def run_suite(
    cases: Sequence[str] = ("eurusd", "goog", "gbm"),
    runners: dict[str, Runner] | None = None,
    sweepers: dict[str, SweepRunner] | None = None,
    sweep_cases: Sequence[str] = ("eurusd", "goog"),
    combos: Sequence[tuple[int, int]] = SWEEP_COMBOS,
    repeats: int = 3,
    gbm_bars: int = 1_000_000,
    progress: Callable[[str], None] | None = None,
) -> list[Row]:
    """Time every runner on every case (and every sweeper on every sweep case); data loading untimed."""
    runners = peer_runners() if runners is None else runners
    sweepers = {} if sweepers is None else sweepers
    combo_list = list(combos)
    rows: list[Row] = []
    frames: dict[str, pd.DataFrame] = {}

    def frame(case: str) -> pd.DataFrame:
        if case not in frames:
            frames[case] = load_case(case, gbm_bars=gbm_bars)
        return frames[case]

    for case in cases:
        df = frame(case)
        head = df.iloc[:WARMUP_BARS]
        for name, run in runners.items():
            _, res = time_median(partial(run, df), repeats, warmup=partial(run, head))
            rows.append((case, res))
            if progress:
                progress(f"{case:>14} {name:<15} {res.seconds:10.4f} s")
    for case in sweep_cases:
        df = frame(case)
        head = df.iloc[:WARMUP_BARS]
        label = f"{case} sweep{len(combo_list)}"
        for name, sweep in sweepers.items():
            _, res = time_median(
                partial(sweep, df, combo_list), repeats, warmup=partial(sweep, head, combo_list[:2])
            )
            rows.append((label, res))
            if progress:
                progress(f"{label:>14} {name:<15} {res.seconds:10.4f} s")
    return rows


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b) if b else abs(a - b)


def parity(res: PeerResult, base: PeerResult) -> str:
    """'trades ok/DIFF, rel. equity difference' vs the baseline; per combo for sweeps."""
    pa, pb = res.extra.get("per_combo"), base.extra.get("per_combo")
    if pa and pb:
        common = [c for c in pb if c in pa]
        same = [c for c in common if pa[c][0] == pb[c][0]]
        worst = max((_rel(pa[c][1], pb[c][1]) for c in same), default=0.0)
        return f"trades eq {len(same)}/{len(common)}, max d {worst:.1e} (trade-equal combos)"
    ok = "ok" if res.trades == base.trades else "DIFF"
    return f"trades {ok}, d {_rel(res.final_equity, base.final_equity):.1e}"


def table_rows(
    rows: Sequence[Row], ratio_vs: str | None = "traderbot", baseline: str = BASELINE
) -> list[dict[str, Any]]:
    """One dict per row with the table's fields (also what --json writes)."""
    by_case: dict[str, dict[str, PeerResult]] = {}
    for case, res in rows:
        by_case.setdefault(case, {})[res.name] = res
    out = []
    for case, res in rows:
        peers = by_case[case]
        ref = peers.get(ratio_vs) if ratio_vs else None
        base = peers.get(baseline)
        out.append(
            {
                "case": case,
                "engine": res.name,
                "bars": res.bars,
                "combos": res.combos,
                "median_s": res.seconds,
                "bars_per_s": res.bars_per_second,
                # how many times faster `ratio_vs` is than this engine (per bar evaluation)
                "ratio": (ref.bars_per_second / res.bars_per_second) if ref else math.nan,
                "trades": res.trades,
                "final_equity": res.final_equity,
                "parity": parity(res, base)
                if base is not None and base is not res
                else ("baseline" if base else "-"),
                "samples": res.extra.get("samples", []),
            }
        )
    return out


def format_table(rows: Sequence[Row], ratio_vs: str | None = "traderbot", baseline: str = BASELINE) -> str:
    """Side-by-side text table; 'x <ratio_vs>' = speed of ratio_vs / speed of the row's engine."""
    recs = table_rows(rows, ratio_vs, baseline)
    head = [
        "case",
        "engine",
        "bars",
        "median s",
        "bars/s",
        f"x {ratio_vs or '-'}",
        "trades",
        "final equity",
        f"parity vs {baseline}",
    ]
    body = [
        [
            r["case"],
            r["engine"],
            f"{r['bars']:,}" + (f" x{r['combos']}" if r["combos"] > 1 else ""),
            f"{r['median_s']:.4f}",
            f"{r['bars_per_s']:,.0f}",
            "-" if math.isnan(r["ratio"]) else f"{r['ratio']:.2f}",
            f"{r['trades']:,}",
            f"{r['final_equity']:,.6f}",
            r["parity"],
        ]
        for r in recs
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    right = {2, 3, 4, 5, 6, 7}
    lines = []
    for i, line in enumerate([head, *body]):
        cells = [
            str(x).rjust(w) if j in right else str(x).ljust(w)
            for j, (x, w) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_table(rows: Sequence[Row], ratio_vs: str | None = "traderbot", baseline: str = BASELINE) -> None:
    print(format_table(rows, ratio_vs, baseline))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.peers.harness",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--cases", default="eurusd,goog,gbm")
    ap.add_argument("--engines", default=",".join(PEER_MODULES))
    ap.add_argument("--sweep-cases", default="eurusd,goog", help="'' for none")
    ap.add_argument("--sweep-engines", default="backtesting.py,vectorbt")
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--gbm-bars", type=int, default=1_000_000)
    ap.add_argument("--ratio-vs", default="traderbot", help="engine whose speed-up over each row is shown")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    args = ap.parse_args(argv)

    def split(s: str) -> list[str]:
        return [x for x in s.split(",") if x]

    sweep_cases = [] if args.no_sweep else split(args.sweep_cases)
    rows = run_suite(
        cases=split(args.cases),
        runners=peer_runners(split(args.engines)),
        sweepers=peer_sweepers(split(args.sweep_engines)) if sweep_cases else {},
        sweep_cases=sweep_cases,
        repeats=args.repeats,
        gbm_bars=args.gbm_bars,
        progress=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print_table(rows, args.ratio_vs)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(table_rows(rows, args.ratio_vs), fh, indent=2, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`make bench`: traderbot side by side with backtesting.py, backtrader and vectorbt, in one run.

Every case times every engine in interleaved rounds (engine A, B, C, A, B, C, ...) after an untimed warm-up,
so load on this shared machine falls on all engines alike; medians are reported. It prints bars/second, the
ratio of traderbot to each peer, and parity with backtesting.py (equal trade count, final equity within 1e-6
relative), and exits non-zero when parity fails or a speed target is missed. Then the data-import and QFH
feature timings. Results also go to benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from benchmarks import traderbot_runners as tb
from benchmarks.peers import SWEEP_COMBOS, PeerResult
from benchmarks.peers.datasets import load_case
from benchmarks.peers.harness import peer_runners, peer_sweepers

ROOT = Path(__file__).resolve().parent
PARITY_RTOL = 1e-6
TARGETS = {"event_vs_backtesting_1m": 3.0, "sweep_vs_vectorbt": 10.0}


def interleaved(
    fns: dict[str, Callable[[], PeerResult]], warm: dict[str, Callable[[], object]], repeats: int
) -> dict[str, PeerResult]:
    for w in warm.values():
        w()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    last: dict[str, PeerResult] = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            res = fn()
            samples[name].append(res.seconds)
            last[name] = res
    return {
        n: PeerResult(
            r.name,
            r.bars,
            statistics.median(samples[n]),
            r.trades,
            r.final_equity,
            r.combos,
            {**r.extra, "samples": samples[n]},
        )
        for n, r in last.items()
    }


def parity(res: PeerResult, base: PeerResult) -> tuple[bool, str]:
    if res.combos > 1:
        mine, theirs = res.extra["per_combo"], base.extra["per_combo"]
        same = [
            c
            for c in theirs
            if mine[c][0] == theirs[c][0]
            and abs(mine[c][1] - theirs[c][1]) <= PARITY_RTOL * abs(theirs[c][1])
        ]
        return len(same) == len(theirs), f"{len(same)}/{len(theirs)} combos equal"
    rel = abs(res.final_equity - base.final_equity) / abs(base.final_equity)
    ok = res.trades == base.trades and rel < PARITY_RTOL
    return ok, f"trades {'=' if res.trades == base.trades else '!='}, equity rel diff {rel:.1e}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--gbm-bars", type=int, default=1_000_000)
    ap.add_argument(
        "--skip-backtrader-gbm", action="store_true", help="backtrader needs ~70 s per 1M-bar run"
    )
    args = ap.parse_args(argv)
    peers, sweepers = peer_runners(), peer_sweepers()
    rows: list[dict[str, object]] = []
    failures: list[str] = []
    for case in ("eurusd", "goog", "gbm"):
        df = load_case(case, gbm_bars=args.gbm_bars)
        engines = {"traderbot": tb.run, **peers}
        if case == "gbm" and args.skip_backtrader_gbm:
            engines.pop("backtrader")
        reps = args.repeats if case != "gbm" else max(3, args.repeats // 2)
        head = df.iloc[:5000]
        res = interleaved(
            {n: partial(f, df) for n, f in engines.items()},
            {n: partial(f, head) for n, f in engines.items()},
            reps,
        )
        failures += report(case, res, rows, "backtesting.py")
        if case == "gbm":
            ratio = res["backtesting.py"].seconds / res["traderbot"].seconds
            if ratio < TARGETS["event_vs_backtesting_1m"]:
                failures.append(f"event engine is {ratio:.2f}x backtesting.py on 1M bars (target 3x)")
    for case in ("eurusd", "goog", "gbm"):
        df = load_case(case, gbm_bars=args.gbm_bars)
        combos = list(SWEEP_COMBOS)
        engines = {"traderbot": tb.sweep, "vectorbt": sweepers["vectorbt"]}
        if case != "gbm":
            engines["backtesting.py"] = sweepers["backtesting.py"]
        res = interleaved(
            {n: partial(f, df, combos) for n, f in engines.items()},
            {n: partial(f, df.iloc[:5000], combos[:2]) for n, f in engines.items()},
            3 if case == "gbm" else args.repeats,
        )
        failures += report(
            f"{case} sweep{len(combos)}", res, rows, "backtesting.py" if case != "gbm" else None
        )
        ratio = res["vectorbt"].seconds / res["traderbot"].seconds
        if ratio < TARGETS["sweep_vs_vectorbt"]:
            failures.append(f"sweep is {ratio:.2f}x vectorbt on {case} (target 10x)")
    extra = side_benchmarks()
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(
        json.dumps({"rows": rows, "other": extra, "failures": failures}, indent=2)
    )
    print("\n" + "\n".join(extra))
    if failures:
        print("\nNOT MET:\n  " + "\n  ".join(failures))
        return 1
    print("\nall parity checks passed and all speed targets met")
    return 0


def report(
    label: str, res: dict[str, PeerResult], rows: list[dict[str, object]], base: str | None
) -> list[str]:
    ours = res["traderbot"]
    problems: list[str] = []
    print(f"\n{label}: {ours.bars:,} bars" + (f" x {ours.combos} combos" if ours.combos > 1 else ""))
    print(
        f"  {'engine':<15}{'median s':>10}{'bars/s':>16}{'traderbot x':>13}{'trades':>9}{'final equity':>18}  parity"
    )
    for name, r in res.items():
        evals = r.bars * r.combos
        speed = evals / r.seconds
        ratio = r.seconds / ours.seconds
        note = "baseline" if name == base else ""
        if base and name != base and base in res:
            ok, note = parity(r, res[base])
            if name == "traderbot" and not ok and r.combos == 1:
                problems.append(f"{label}: traderbot parity with {base} failed ({note})")
        cells = f"{r.seconds:>10.4f}{speed:>16,.0f}{ratio:>12.2f}x{r.trades:>9,}{r.final_equity:>18,.6f}"
        print(f"  {name:<15}{cells}  {note}")
        rows.append(
            {
                "case": label,
                "engine": name,
                "bars": r.bars,
                "combos": r.combos,
                "median_s": r.seconds,
                "evals_per_s": speed,
                "traderbot_speedup": ratio,
                "trades": r.trades,
                "final_equity": r.final_equity,
                "parity": note,
                "samples": r.extra.get("samples"),
            }
        )
    return problems


def side_benchmarks() -> list[str]:
    lines = []
    for script in ("bench_import.py", "bench_qfh.py"):
        proc = subprocess.run(
            [sys.executable, str(ROOT / script)], capture_output=True, text=True, check=False
        )
        lines.append(proc.stdout.strip() or f"{script} failed: {proc.stderr.strip()[-300:]}")
    return lines


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"(make bench took {time.perf_counter() - t0:.0f} s)")
    raise SystemExit(code)

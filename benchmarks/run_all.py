"""`make bench`: traderbot side by side with backtesting.py, backtrader and vectorbt, in one run.

Every case times every engine in interleaved rounds (engine A, B, C, A, B, C, ...), so load on this shared
machine falls on all engines alike; each sample runs in a fresh worker process (benchmarks/worker.py) after an
untimed warm-up, so no engine inherits another's heap; medians are reported. It prints bars/second, the
ratio of traderbot to each peer, and parity with backtesting.py (equal trade count, final equity within 1e-6
relative), and exits non-zero when parity fails or a speed target is missed. Then the data-import and QFH
feature timings. Results also go to benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.peers import SWEEP_COMBOS, PeerResult

ROOT = Path(__file__).resolve().parent
PARITY_RTOL = 1e-6
TARGETS = {"event_vs_backtesting_1m": 3.0, "sweep_vs_vectorbt": 10.0}


def isolated(engines: list[str], mode: str, case: str, repeats: int, gbm_bars: int) -> dict[str, PeerResult]:
    """Median of `repeats` samples per engine, rounds interleaved, each sample in a fresh process."""
    samples: dict[str, list[float]] = {e: [] for e in engines}
    last: dict[str, dict[str, Any]] = {}
    for _ in range(repeats):
        for engine in engines:
            cmd = [sys.executable, "-m", "benchmarks.worker", engine, mode, case, str(gbm_bars)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT.parent)
            if proc.returncode != 0:
                raise RuntimeError(f"{engine} {mode} {case} failed: {proc.stderr.strip()[-500:]}")
            doc = json.loads(proc.stdout.strip().splitlines()[-1])
            samples[engine].append(doc["seconds"])
            last[engine] = doc
    out: dict[str, PeerResult] = {}
    for engine, doc in last.items():
        per_combo = {(f, s): (n, e) for f, s, n, e in doc["per_combo"]}
        out[engine] = PeerResult(
            doc["name"],
            doc["bars"],
            statistics.median(samples[engine]),
            doc["trades"],
            doc["final_equity"],
            doc["combos"],
            {"per_combo": per_combo, "samples": samples[engine]},
        )
    return out


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
    rows: list[dict[str, object]] = []
    failures: list[str] = []
    for case in ("eurusd", "goog", "gbm"):
        engines = ["traderbot", "backtesting.py", "backtrader", "vectorbt"]
        if case == "gbm" and args.skip_backtrader_gbm:
            engines.remove("backtrader")
        reps = args.repeats if case != "gbm" else max(3, args.repeats // 2)
        res = isolated(engines, "run", case, reps, args.gbm_bars)
        failures += report(case, res, rows, "backtesting.py")
        if case == "gbm":
            ratio = res["backtesting.py"].seconds / res["traderbot"].seconds
            if ratio < TARGETS["event_vs_backtesting_1m"]:
                failures.append(f"event engine is {ratio:.2f}x backtesting.py on 1M bars (target 3x)")
    for case in ("eurusd", "goog", "gbm"):
        engines = ["traderbot", "vectorbt"] + (["backtesting.py"] if case != "gbm" else [])
        res = isolated(engines, "sweep", case, 3 if case == "gbm" else args.repeats, args.gbm_bars)
        failures += report(
            f"{case} sweep{len(SWEEP_COMBOS)}", res, rows, "backtesting.py" if case != "gbm" else None
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
    env = {**os.environ, "PYTHONPATH": str(ROOT.parent)}
    for script in (
        "bench_import.py",
        "bench_qfh.py",
        "bench_orders.py",
        "bench_paper.py",
        "bench_kill.py",
        "bench_risk.py",
        "bench_train.py",
        "bench_config_reload.py",
        "bench_service.py",
        "bench_api.py",
    ):
        proc = subprocess.run(
            [sys.executable, str(ROOT / script)], capture_output=True, text=True, check=False, env=env
        )
        lines.append(proc.stdout.strip() or f"{script} failed: {proc.stderr.strip()[-300:]}")
    return lines


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"(make bench took {time.perf_counter() - t0:.0f} s)")
    raise SystemExit(code)

"""One timed sample in a fresh process: `python -m benchmarks.worker ENGINE MODE CASE [GBM_BARS]`.

Loads the case and warms the engine up (both untimed), times one run or sweep, and prints it as JSON. Running
each sample in its own process keeps one engine's heap (backtrader leaves millions of objects behind) from
slowing the next one; every engine is treated the same way.
"""

from __future__ import annotations

import json
import sys

from benchmarks import traderbot_runners as tb
from benchmarks.peers import SWEEP_COMBOS, PeerResult
from benchmarks.peers.datasets import load_case
from benchmarks.peers.harness import peer_runners, peer_sweepers


def sample(engine: str, mode: str, case: str, gbm_bars: int) -> PeerResult:
    df = load_case(case, gbm_bars=gbm_bars)
    combos = list(SWEEP_COMBOS)
    if mode == "run":
        fn = tb.run if engine == "traderbot" else peer_runners([engine])[engine]
        fn(df.iloc[:5000])  # warm-up (numba JIT, imports), untimed
        return fn(df)
    sweep = tb.sweep if engine == "traderbot" else peer_sweepers([engine])[engine]
    sweep(df.iloc[:5000], combos[:2])
    return sweep(df, combos)


def main(argv: list[str]) -> int:
    engine, mode, case = argv[:3]
    gbm_bars = int(argv[3]) if len(argv) > 3 else 1_000_000
    r = sample(engine, mode, case, gbm_bars)
    per_combo = [[f, s, n, e] for (f, s), (n, e) in r.extra.get("per_combo", {}).items()]
    print(
        json.dumps(
            {
                "name": r.name,
                "bars": r.bars,
                "seconds": r.seconds,
                "trades": r.trades,
                "final_equity": r.final_equity,
                "combos": r.combos,
                "per_combo": per_combo,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

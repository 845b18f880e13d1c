"""The running service at scale (issue 6): market-data throughput across 50 pairs, and enable-to-trading time.

50 instruments trade at once in one `TradingService` (paper mode, SQLite state, event log, snapshots, risk
engine), each with its own `sma_cross` strategy, fed by a replay of real 1-minute bars as fast as possible. The
data: the 13 real series of ../shared/data/histdata_fx_m1, 2023-08-01 .. 2023-08-29 (about 28,500 bars each);
there are only 13 real 1-minute FX series, so each is used by up to four instruments (EURUSD, EURUSD2, ...,
the copies registered for this run with the original's contract details). Throughput = bars released / wall
seconds from the first release to the end of the replay (startup excluded), median of 3 runs, for two order flows:
sma_cross 60/240 (15,111 orders: about one per 94 bars) and 10/40 (91,451 orders: one per 16 bars). Every order's
intent is committed to SQLite (WAL, synchronous=FULL) before it reaches the venue, so the busy run measures the
order path more than the market data.
Then enable-to-trading: a second registry on the same database (as the CLI would be) enables a stopped pair
while the service replays at 20,000x; timed until its strategy runs. Median of 5.
Targets: >= 100,000 bar updates/s across 50 pairs; enable-to-trading < 2 s.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_service.py
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from traderbot.data.loader import load_ohlcv_file
from traderbot.model import instrument as instruments
from traderbot.pairs.registry import PairRegistry
from traderbot.service.service import TradingService
from traderbot.service.settings import PairSpec, ServiceSettings
from traderbot.store.db import open_engine

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "histdata_fx_m1"
REAL = ["EURUSD", "GBPUSD", "USDJPY", "USDCHF", "AUDUSD", "USDCAD", "NZDUSD", "EURGBP", "AUDNZD", "USDHKD",
        "USDNOK", "XAGUSD", "XAUUSD"]  # fmt: skip
N_PAIRS = 50
SLOW = {"fast": 60, "slow": 240}  # about one order per 94 bars per pair
BUSY = {"fast": 10, "slow": 40}  # about one order per 16 bars per pair: the order path's cost shows


def dataset(folder: Path) -> list[str]:
    """50 instrument files in `folder` from the 13 real series (copies registered as instruments)."""
    ids: list[str] = []
    frames = {}
    for real in REAL:
        df, _ = load_ohlcv_file(DATA / f"{real}_1m.parquet", instrument=real, timeframe="1m")
        ts = df["ts"]
        frames[real] = df[
            (ts >= pd.Timestamp("2023-08-01", tz="UTC")) & (ts < pd.Timestamp("2023-08-29", tz="UTC"))
        ]
    copy = 1
    while len(ids) < N_PAIRS:
        for real in REAL:
            if len(ids) == N_PAIRS:
                break
            pid = real if copy == 1 else f"{real}{copy}"
            if pid not in instruments.INSTRUMENTS:
                instruments.INSTRUMENTS[pid] = dataclasses.replace(instruments.INSTRUMENTS[real], id=pid)
            frames[real].to_parquet(folder / f"{pid}_1m.parquet", index=False)
            ids.append(pid)
        copy += 1
    return ids


def settings(state: Path, data: Path, ids: list[str], params: dict[str, int] | None = None,
             **kw: object) -> ServiceSettings:  # fmt: skip
    chosen = params or SLOW
    pairs = tuple(PairSpec(p, "1m", "sma_cross", dict(chosen), "units:1000") for p in ids)
    return ServiceSettings(data_dir=state, dataset=str(data), pairs=pairs, **kw)  # type: ignore[arg-type]


def throughput(data: Path, ids: list[str], params: dict[str, int]) -> tuple[float, int, int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        svc = TradingService(settings(Path(tmp), data, ids, params, speed=None, exit_at_end=True))
        marks: dict[str, float] = {}

        async def main() -> None:
            task = asyncio.create_task(svc.run())
            await svc.started.wait()
            marks["t0"], marks["b0"] = time.perf_counter(), svc.feed.released
            await task
            marks["t1"] = time.perf_counter()

        asyncio.run(main())
        bars, seconds = svc.feed.released - int(marks["b0"]), marks["t1"] - marks["t0"]
        orders = len(svc.kernel.cache.orders)
        return bars / seconds, bars, orders, orders / seconds


def enable_to_trading(data: Path, ids: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        chosen = ids[:10]
        svc = TradingService(settings(Path(tmp), data, chosen, speed=20_000.0, poll_s=0.1))
        out: dict[str, float] = {}

        async def main() -> None:
            task = asyncio.create_task(svc.run())
            await svc.started.wait()
            other = PairRegistry(open_engine(f"sqlite:///{Path(tmp) / 'traderbot.db'}"))
            other.disable(chosen[-1], actor="bench", reason="bench")
            while chosen[-1] in svc.host.running:
                await asyncio.sleep(0.005)
            t0 = time.perf_counter()
            other.enable(chosen[-1], actor="bench", reason="bench")
            while chosen[-1] not in svc.host.running:
                await asyncio.sleep(0.005)
            out["s"] = time.perf_counter() - t0
            svc.stop()
            await task

        asyncio.run(main())
        return out["s"]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        ids = dataset(data)
        lines = []
        for label, params in (("typical order flow", SLOW), ("busy order flow", BUSY)):
            runs = [throughput(data, ids, params) for _ in range(3)]
            rates = [r[0] for r in runs]
            lines.append(
                f"service_50_pairs {label} (sma_cross {params['fast']}/{params['slow']}): bars={runs[0][1]:,} "
                f"orders={runs[0][2]:,} updates_per_s median={statistics.median(rates):,.0f} "
                f"runs={','.join(f'{r:,.0f}' for r in rates)} orders_per_s median="
                f"{statistics.median(r[3] for r in runs):,.0f} (target >= 100,000 updates/s)"
            )
        enables = [enable_to_trading(data, ids) for _ in range(5)]
    print("\n".join(lines))
    print(
        f"service_enable_to_trading: median_s={statistics.median(enables):.2f} max_s={max(enables):.2f} "
        "(target < 2 s)"
    )


if __name__ == "__main__":
    main()

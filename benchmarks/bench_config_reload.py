"""Hot reload latency: from `traderbot.toml` being saved (temp file + rename, as editors do) to the change
applied by the watcher (the risk applier has run). 20 saves, each changing a risk limit; median and max.
Target (issue 6): under 1 second.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_config_reload.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from traderbot.config.manager import ConfigManager
from traderbot.config.starter import starter_text
from traderbot.config.watch import watch
from traderbot.store.db import open_engine

SAVES = 20


async def run(folder: Path) -> list[float]:
    path = folder / "traderbot.toml"
    base = starter_text()
    path.write_text(base)
    manager = ConfigManager(
        open_engine(f"sqlite:///{folder / 'tb.db'}"), path, author_default="bench", env={}
    )
    applied: list[float] = []

    def on_risk(_old: Any, _new: Any) -> None:
        applied.append(time.perf_counter())

    manager.register("risk", on_risk)
    manager.start()
    ready = asyncio.Event()
    task = asyncio.create_task(watch(manager, ready=ready))
    await asyncio.wait_for(ready.wait(), 5)
    seconds = []
    for n in range(SAVES):
        tmp = folder / "traderbot.toml.tmp~"
        tmp.write_text(base.replace('max_order_notional = "100000"', f'max_order_notional = "{90000 + n}"'))
        t0 = time.perf_counter()
        os.replace(tmp, path)
        async with asyncio.timeout(5):
            while len(applied) <= n:
                await asyncio.sleep(0.001)
        seconds.append(applied[n] - t0)
        await asyncio.sleep(0.1)  # let the debounce window close before the next save
    task.cancel()
    return seconds


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        runs = asyncio.run(run(Path(d)))
    print(
        f"config_reload saves={SAVES} median_ms={statistics.median(runs) * 1e3:.1f} max_ms={max(runs) * 1e3:.1f} "
        "(file saved via rename -> watcher -> validate -> diff -> risk applier; target < 1000 ms)"
    )


if __name__ == "__main__":
    main()

"""Open-loop HTTP load for bench_api.py, run in its own process (its own GIL, as a real client is).

Requests are sent on a fixed schedule (`rate` per second, the paths taken in turn) whatever the answers do, each
on one of `connections` keep-alive connections; a request's latency is measured from its scheduled time, so a
stalled server is charged for the requests queued behind it (no coordinated omission). Prints one JSON line:
per path the latencies in ms, and the status codes seen.

Run: python -m benchmarks.api_load URL KEY RATE SECONDS PATH [PATH ...]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter

import httpx


async def load(url: str, key: str, rate: float, seconds: float, paths: list[str],
               connections: int = 16) -> dict[str, object]:  # fmt: skip
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    lat: dict[str, list[float]] = {p: [] for p in paths}
    codes: Counter[str] = Counter()
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, limits=limits, timeout=10) as http:
        for p in paths:  # warm the connections and the server's first-call paths (not counted)
            for _ in range(5):
                await http.get(p)
        n = int(rate * seconds)
        t0 = time.perf_counter() + 0.1
        tasks = []

        async def one(i: int) -> None:
            path = paths[i % len(paths)]
            at = t0 + i / rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            r = await http.get(path)
            lat[path].append((time.perf_counter() - at) * 1000)
            codes[f"{path} {r.status_code}"] += 1

        for i in range(n):
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        achieved = n / (time.perf_counter() - t0)
    return {"latency_ms": lat, "codes": dict(codes), "achieved_rate": achieved}


def main() -> None:
    url, key, rate, seconds, *paths = sys.argv[1:]
    out = asyncio.run(load(url, key, float(rate), float(seconds), paths))
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""The cache refreshed on its schedule over a real FX weekend, on a simulated clock: every 15 minutes while the
market is open, once 15 minutes before the Sunday open, never in between; each round validates."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pandas as pd

from traderbot.data.cache_manifest import record
from traderbot.data.cache_refresher import CacheRefresher, RoundResult
from traderbot.data.cache_repair import StoreCandleSource
from traderbot.data.loader import load_ohlcv_file
from traderbot.data.market_cache import MarketDataCache
from traderbot.data.store import ParquetBarStore

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "histdata_fx_m1" / "EURUSD_1m.parquet"


def ns(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value)


def test_refreshes_follow_the_market_over_a_weekend_and_keep_the_cache_valid(tmp_path: Path) -> None:
    df, _ = load_ohlcv_file(DATA, instrument="EURUSD", timeframe="1m")
    ts = df["ts"].astype("int64")
    reference = ParquetBarStore(tmp_path / "reference")
    reference.write(
        "EURUSD", "1m", df[(ts >= ns("2023-08-01")) & (ts < ns("2023-08-16"))].reset_index(drop=True)
    )
    store = ParquetBarStore(tmp_path / "store")
    path = store.write("EURUSD", "1m", df[(ts >= ns("2023-08-01")) & (ts < ns("2023-08-11 17:00"))]
                       .reset_index(drop=True))  # fmt: skip
    record(path)
    clock = [ns("2023-08-11 18:00")]
    invalid: list[tuple[str, str]] = []
    cache = MarketDataCache(store, now_ns=lambda: clock[0], on_invalid=lambda p, r: invalid.append((p, r)))
    refresher = CacheRefresher(cache, StoreCandleSource(reference), ["EURUSD"])
    rounds: list[tuple[int, RoundResult]] = []

    async def sleep(seconds: float) -> None:
        clock[0] += int(seconds * 1e9)

    def seen(result: RoundResult) -> None:
        rounds.append((clock[0], result))

    asyncio.run(refresher.run(lambda: clock[0], sleep, rounds=40, on_round=seen))
    times = [pd.Timestamp(t, tz="UTC") for t, r in rounds if r.refreshed]
    assert times[0] == pd.Timestamp("2023-08-11 18:00", tz="UTC")  # never refreshed: at once
    friday = [t for t in times if t.day_of_week == 4]
    assert all(b - a == pd.Timedelta(minutes=15) for a, b in itertools.pairwise(friday))
    assert not [t for t in times if t.day_of_week == 5]  # Saturday: the market is shut, nothing is fetched
    sunday = [t for t in times if t.day_of_week == 6]
    assert sunday[0] == pd.Timestamp(
        "2023-08-13 20:45", tz="UTC"
    )  # 15 min before the 21:00 UTC open (summer)
    assert sunday[1] == pd.Timestamp("2023-08-13 21:00", tz="UTC")
    first_round = rounds[0][1]
    assert first_round.refreshed[0].appended >= 55  # 17:00 .. 18:00 came from the source
    assert all(h.valid for _, r in rounds for h in r.health), [h.reasons for _, r in rounds for h in r.health]
    assert not invalid
    last_bar = pd.Timestamp(int(store.read("EURUSD", "1m")["ts"].astype("int64").iloc[-1]), tz="UTC")
    assert pd.Timestamp(rounds[-1][0], tz="UTC") - last_bar <= pd.Timedelta(minutes=5)

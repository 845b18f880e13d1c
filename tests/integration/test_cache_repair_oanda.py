"""Repairing the cache through the OANDA adapter against the local v20 fake, serving real EURUSD bars."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pyarrow.parquet as pq
import pytest
from tests.contract.oanda.support import TOKEN, config_for
from tests.fakes.oanda_fake import OandaFake

from traderbot.brokers.oanda import OandaBroker
from traderbot.data import cache_manifest
from traderbot.data.cache_repair import BrokerCandleSource, RepairResult
from traderbot.data.market_cache import MarketDataCache
from traderbot.data.store import ParquetBarStore

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
EURUSD = DATA / "histdata_fx_m1" / "EURUSD_1m.parquet"
NOW = int(pd.Timestamp("2023-08-16 12:00", tz="UTC").value)
MINUTE = 60_000_000_000


def real(start: str, end: str) -> pd.DataFrame:
    if not EURUSD.is_file():
        pytest.fail(f"real data {EURUSD} is missing: mount the shared data next to the repository")
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    return pq.read_table(EURUSD, filters=[("ts", ">=", lo), ("ts", "<", hi)]).to_pandas()


@pytest.fixture
def fake() -> Iterator[OandaFake]:
    with OandaFake(token=TOKEN, heartbeat=0.2) as server:
        df = real("2023-08-09", "2023-08-16 12:05")  # the newest candle is served as still forming
        rows = [
            (int(t.value), f"{o:.5f}", f"{h:.5f}", f"{lo:.5f}", f"{c:.5f}", 0)
            for t, o, h, lo, c in zip(df["ts"], df["open"], df["high"], df["low"], df["close"], strict=True)
        ]
        server.set_candles("EUR_USD", "M1", rows)
        yield server


def repair_via_oanda(fake: OandaFake, cache: MarketDataCache) -> RepairResult:
    async def main() -> RepairResult:
        broker = OandaBroker(config_for(fake))
        await broker.connect()
        try:
            return await cache.repair("EURUSD", "1m", BrokerCandleSource(broker))
        finally:
            await broker.close()

    return asyncio.run(main())


def queries(fake: OandaFake) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(seen.path).query) for seen in fake.seen("candles")]


def test_missing_hours_are_fetched_from_oanda_and_the_pair_validates(fake: OandaFake, tmp_path: Path) -> None:
    full = real("2023-08-09 12:00", "2023-08-16 12:00")
    store = ParquetBarStore(tmp_path / "cache")
    cache_manifest.record(store.write("EURUSD", "1m", full[~full["ts"].dt.hour.isin([4, 15])]))
    cache = MarketDataCache(store, now_ns=lambda: NOW)

    result = repair_via_oanda(fake, cache)

    assert not result.before.valid and result.action == "repaired" and result.after.valid
    pd.testing.assert_frame_equal(store.read("EURUSD", "1m"), full)
    assert all(q["count"] == ["5000"] and q["granularity"] == ["M1"] for q in queries(fake))
    assert 0 < len(queries(fake)) < len(result.before.missing_spans)  # nearby holes share one request


def test_an_unreadable_file_is_refetched_in_chunks_of_5000_bars(fake: OandaFake, tmp_path: Path) -> None:
    store = ParquetBarStore(tmp_path / "cache")
    path = store.write("EURUSD", "1m", real("2023-08-09 12:00", "2023-08-16 12:00"))
    cache_manifest.record(path)
    path.write_bytes(b"PAR1" + b"\0" * 100)
    cache = MarketDataCache(store, now_ns=lambda: NOW)

    result = repair_via_oanda(fake, cache)

    assert result.before.checksum == "unreadable" and result.after.valid and result.after.checksum == "ok"
    assert result.quarantined is not None and result.quarantined.read_bytes() == b"PAR1" + b"\0" * 100
    starts = sorted({q["from"][0] for q in queries(fake) if "includeFirst" not in q})
    window = NOW - 7 * 1440 * MINUTE
    first_chunks = [window, window + 5000 * MINUTE, window + 10_000 * MINUTE]
    assert [int(Decimal(s) * 1_000_000_000) for s in starts] == first_chunks  # UNIX seconds on the wire
    pd.testing.assert_frame_equal(store.read("EURUSD", "1m"), real("2023-08-09 12:00", "2023-08-16 12:00"))

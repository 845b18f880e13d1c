"""The live service keeps its data folder's market-data cache fresh (service/cache_job.py), against the OANDA
wire-protocol fake: new bars on the schedule, a pair whose cache turns invalid stopped while another trades on,
a broker failure during a refresh survived.

The schedule and the validation follow the FX calendar (a weekend wall clock would refresh nothing), so the
cache's clock is pinned to a Wednesday noon and moved by the test, the fake's candles stamped up to it. The pairs
warm from a valid cache seeded in the data folder, topped up from the broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.contract.oanda.support import TOKEN, config_for
from tests.fakes.oanda_fake import OandaFake
from tests.service_harness import run_service, until

from traderbot.brokers.oanda import OandaBroker
from traderbot.data import cache_manifest
from traderbot.data.cache_schedule import RefreshSchedule
from traderbot.data.cache_validate import CacheConfig
from traderbot.data.frame import frame_from_arrays
from traderbot.data.store import ParquetBarStore
from traderbot.pairs import PairRegistry
from traderbot.pairs.lifecycle import PairState
from traderbot.service.service import TradingService
from traderbot.service.settings import PairSpec, ServiceSettings
from traderbot.store.db import open_engine

MINUTE = 60 * 10**9
T0 = int(pd.Timestamp("2024-01-10 12:00", tz="UTC").value)  # a Wednesday: the FX market is open all around
SEEDED = 200  # minutes of bars in the seeded cache, up to T0
NOTE = '''
from traderbot.strategies.base import Strategy


class Note(Strategy):
    """Notes each bar's open time; buys 1000 on its first bar (one order: the pair trades)."""

    name = "note"

    def on_start(self):
        self.seen = []

    def on_bar(self, bar):
        self.seen.append(bar.ts)
        if len(self.seen) == 1:
            self.buy(1000)
'''


class Clock:
    """The cache's clock, moved by the test."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> int:
        return self.t


def prices(i: int) -> tuple[float, float, float, float]:
    c = round(1.1 + ((i * 37) % 23) * 0.0001, 5)
    return c, round(c + 0.0003, 5), round(c - 0.0003, 5), c


class Market:
    """One pair's 1-minute candles at the fake, stamped up to the clock's minute (that one still forming)."""

    def __init__(self, fake: OandaFake, clock: Clock, pair: str) -> None:
        self.fake, self.clock, self.pair = fake, clock, pair
        self.rows = [self.row(i) for i in range(-SEEDED, 1)]
        fake.set_candles(pair, "M1", self.rows)

    @staticmethod
    def row(i: int) -> tuple[int, str, str, str, str, int]:
        o, h, lo, c = prices(i)
        return T0 + i * MINUTE, f"{o:.5f}", f"{h:.5f}", f"{lo:.5f}", f"{c:.5f}", 10

    def catch_up(self, *, lost: int = 0) -> None:
        """The broker gets the candles up to the clock's minute, except the first `lost` new ones."""
        first = (self.rows[-1][0] - T0) // MINUTE + 1
        self.rows += [self.row(i) for i in range(first + lost, (self.clock.t - T0) // MINUTE + 1)]
        self.fake.set_candles(self.pair, "M1", self.rows)


def seed(store: ParquetBarStore, pair: str) -> None:
    """A valid cached series: the SEEDED minutes before T0, checksum recorded."""
    idx = np.arange(-SEEDED, 0)
    o, h, lo, c = (np.array(col) for col in zip(*(prices(int(i)) for i in idx), strict=True))
    frame = frame_from_arrays(T0 + idx * MINUTE, o, h, lo, c, np.full(len(idx), 10.0))
    cache_manifest.record(store.write(pair, "1m", frame))


def last_bar(store: ParquetBarStore, pair: str) -> int:
    return int(store.read(pair, "1m")["ts"].astype("int64").iloc[-1])


@pytest.fixture
def fake() -> Iterator[OandaFake]:
    with OandaFake(token=TOKEN, heartbeat=0.2) as server:
        yield server


def start(tmp_path: Path, fake: OandaFake, clock: Clock, pairs: tuple[str, ...], bar_retry_s: float = 0.05,
          **broker: object) -> tuple[TradingService, ParquetBarStore]:  # fmt: skip
    """The live service on the fake, its cache of the pairs seeded; refreshed every minute of the clock."""
    store = ParquetBarStore(tmp_path / "state" / "store")
    for pair in pairs:
        seed(store, pair)
    (tmp_path / "note.py").write_text(NOTE)
    specs = tuple(PairSpec(p, "1m", str(tmp_path / "note.py"), {}, "units:1000") for p in pairs)
    settings = ServiceSettings(
        data_dir=tmp_path / "state", mode="live", broker="oanda", warm_bars=100, bar_grace_s=0.0,
        bar_retry_s=bar_retry_s, poll_s=0.05, pairs=specs,
        cache=CacheConfig(window_days=0.1),  # the last 144 minutes are checked
        cache_refresh=RefreshSchedule(every=timedelta(minutes=1), lead_before_open=timedelta(0)),
    )  # fmt: skip
    return TradingService(settings, broker=OandaBroker(config_for(fake, **broker)), now_ns=clock), store


def test_a_running_pairs_cache_gets_the_brokers_new_bars_on_the_schedule(
    tmp_path: Path, fake: OandaFake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="traderbot.service")
    clock = Clock()
    eur = Market(fake, clock, "EURUSD")
    service, store = start(tmp_path, fake, clock, ("EURUSD",))

    async def body() -> None:
        await until(lambda: "EURUSD" in service.host.running, what="EURUSD trading")
        job = service.cache_job
        assert job is not None
        await until(lambda: job.rounds == 1, what="the first refresh, at once")
        assert job.health["EURUSD"].valid and last_bar(store, "EURUSD") == T0 - MINUTE  # nothing new yet
        clock.t += 30 * 10**9
        await asyncio.sleep(0.3)
        assert job.rounds == 1  # not due: refreshed a minute after the last refresh
        clock.t = T0 + 3 * MINUTE
        eur.catch_up()  # T0 .. T0+2 complete, T0+3 still forming
        await until(lambda: job.rounds == 2, what="the scheduled refresh")
        assert last_bar(store, "EURUSD") == T0 + 2 * MINUTE and len(store.read("EURUSD", "1m")) == SEEDED + 3
        assert job.health["EURUSD"].valid and service.status()["cache"]["EURUSD"]["valid"] is True
        assert cache_manifest.check(store.path_for("EURUSD", "1m"), rehash=True) == "ok"  # recorded again

    run_service(service, body)
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("cache refresh")]
    assert "cache refresh EURUSD 1m: appended 0 bars; valid, score 100.0" in logged
    assert "cache refresh EURUSD 1m: appended 3 bars; valid, score 100.0" in logged


def test_a_pair_whose_cache_turns_invalid_is_stopped_and_another_keeps_trading(
    tmp_path: Path, fake: OandaFake
) -> None:
    clock = Clock()
    eur, gbp = Market(fake, clock, "EURUSD"), Market(fake, clock, "GBPUSD")
    service, store = start(tmp_path, fake, clock, ("EURUSD", "GBPUSD"))

    async def body() -> None:
        await until(lambda: {"EURUSD", "GBPUSD"} <= set(service.host.running), what="both pairs trading")
        job = service.cache_job
        assert job is not None
        await until(lambda: {"EURUSD", "GBPUSD"} <= set(job.health), what="both caches refreshed")
        assert job.health["EURUSD"].valid and job.health["GBPUSD"].valid
        gbp_strategy = service.host.running["GBPUSD"].strategy
        clock.t = T0 + 45 * MINUTE
        eur.catch_up(lost=42)  # the broker lost 42 minutes of EURUSD
        gbp.catch_up()
        await until(lambda: "EURUSD" not in service.host.running, what="EURUSD stopped")
        await asyncio.sleep(0.3)
        assert "EURUSD" not in service.host.running  # stopped, not restarted by the pair watcher
        registry = PairRegistry(open_engine(f"sqlite:///{tmp_path / 'state' / 'traderbot.db'}"))
        assert registry.get("EURUSD").state is PairState.READY
        last = registry.history("EURUSD", limit=1)[-1]
        assert last.actor == "cache" and last.reason.startswith("market-data cache invalid: ")
        assert "hole(s) longer than the allowed 30 min" in last.reason
        await until(lambda: last_bar(store, "GBPUSD") == T0 + 44 * MINUTE, what="GBPUSD's cache refreshed")
        assert "GBPUSD" in service.host.running and job.health["GBPUSD"].valid
        seen = len(gbp_strategy.seen)  # type: ignore[attr-defined]
        clock.t += MINUTE
        gbp.catch_up()
        await until(lambda: len(gbp_strategy.seen) > seen, what="GBPUSD's next bar")  # type: ignore[attr-defined]
        assert any(o.instrument_id == "GBPUSD" for o in service.kernel.cache.orders.values())
        assert set(job.refreshers) == {"GBPUSD"}  # the stopped pair left the job

    run_service(service, body)


def test_a_broker_failure_during_a_refresh_is_retried_at_the_next_round(
    tmp_path: Path, fake: OandaFake
) -> None:
    clock = Clock()
    eur = Market(fake, clock, "EURUSD")
    # no retries inside the client, and the feed's polls kept out of the way: the refresh meets the failure
    service, store = start(tmp_path, fake, clock, ("EURUSD",), bar_retry_s=30.0, get_retries=0)

    async def body() -> None:
        await until(lambda: "EURUSD" in service.host.running, what="EURUSD trading")
        job = service.cache_job
        assert job is not None
        await until(lambda: job.rounds == 1, what="the first refresh")
        fake.fail_next("candles", 503)
        clock.t = T0 + 2 * MINUTE
        eur.catch_up()
        await until(lambda: job.errors == 1, what="the failed refresh")
        await asyncio.sleep(0.3)
        assert job.errors == 1 and job.rounds == 1  # not hammered: tried again at the next scheduled refresh
        assert not service.stopping.is_set() and "EURUSD" in service.host.running
        assert last_bar(store, "EURUSD") == T0 - MINUTE
        clock.t = T0 + 3 * MINUTE
        eur.catch_up()
        await until(lambda: job.rounds == 2, what="the next refresh")
        assert last_bar(store, "EURUSD") == T0 + 2 * MINUTE and job.health["EURUSD"].valid

    run_service(service, body)

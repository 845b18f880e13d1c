"""The trading service (paper mode): replay, restart, pairs changed while it runs, a failing strategy isolated,
one service per state folder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from traderbot.errors import UserError
from traderbot.pairs import PairRegistry, PairState
from traderbot.service.service import TradingService
from traderbot.service.settings import PairSpec, ServiceSettings
from traderbot.store.db import open_engine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "strategies"
SMA = {"fast": 5, "slow": 20}


def settings(tmp_path: Path, pairs: tuple[PairSpec, ...], **kw: object) -> ServiceSettings:
    return ServiceSettings(data_dir=tmp_path / "state", pairs=pairs, **kw)  # type: ignore[arg-type]


def spec(pair: str, **kw: object) -> PairSpec:
    return PairSpec(pair, "15m", "sma_cross", dict(SMA), "units:1000", **kw)  # type: ignore[arg-type]


async def run_until(service: TradingService, cond: Callable[[], bool], timeout: float = 30.0,
                    then: Callable[[], Awaitable[None]] | None = None) -> None:  # fmt: skip
    """Run the service until `cond()` holds (checked every 10 ms), then stop it."""
    task = asyncio.create_task(service.run())
    await asyncio.wait_for(service.started.wait(), timeout)
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            service.stop()
            await task
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
    if then is not None:
        await then()
    service.stop()
    await task


def test_a_replay_runs_to_the_end_and_a_restart_resumes_where_it_stopped(tmp_path: Path) -> None:
    pairs = (spec("EURUSD"), spec("GBPUSD"))
    first = TradingService(settings(tmp_path, pairs, speed=None))
    asyncio.run(run_until(first, lambda: first.feed.released >= 5_000))
    stopped_at, released, fills = (
        first.kernel.cache.now_ns,
        first.feed.released,
        len(first.kernel.portfolio.trades),
    )
    positions = {k: v for k, v in first.kernel.portfolio._net.items() if v}
    assert released >= 5_000 and not first.kernel.cache.open_ids  # open orders canceled at the stop
    second = TradingService(settings(tmp_path, pairs, speed=None, exit_at_end=True))
    asyncio.run(second.run())
    assert second.feed.start_ns == stopped_at  # the replay resumed where it stopped
    assert released + second.feed.released == 12_857  # every bar once: 6,429 + 6,428
    assert len(second.kernel.portfolio.trades) >= fills
    restored = TradingService(settings(tmp_path, pairs, speed=None, exit_at_end=True))
    restored._build()  # what a third start sees before running: positions rebuilt from the stored fills
    assert {k: v for k, v in restored.kernel.portfolio._net.items() if v} == {
        k: v for k, v in second.kernel.portfolio._net.items() if v}  # fmt: skip
    restored.engine.dispose()
    assert positions is not None


def test_a_pair_enabled_from_another_process_trades_within_two_seconds_and_stops_when_disabled(
    tmp_path: Path,
) -> None:
    service = TradingService(settings(tmp_path, (spec("EURUSD"), spec("GBPUSD", enabled=False)), speed=20_000.0,
                                      poll_s=0.1))  # fmt: skip
    marks: dict[str, float] = {}

    async def then() -> None:
        other = PairRegistry(open_engine(f"sqlite:///{tmp_path / 'state' / 'traderbot.db'}"))
        assert "GBPUSD" not in service.host.running
        marks["enabled"] = time.monotonic()
        other.enable("GBPUSD", actor="ops", reason="go")
        while "GBPUSD" not in service.host.running:
            await asyncio.sleep(0.01)
        marks["trading"] = time.monotonic()
        while not any(o.instrument_id == "GBPUSD" for o in service.kernel.cache.orders.values()):
            await asyncio.sleep(0.01)
        other.disable("GBPUSD", actor="ops", reason="enough")
        while "GBPUSD" in service.host.running:
            await asyncio.sleep(0.01)
        assert "EURUSD" in service.host.running  # the other pair was never touched

    asyncio.run(run_until(service, lambda: service.feed.released > 200, then=then))
    assert marks["trading"] - marks["enabled"] < 2.0
    reg = PairRegistry(open_engine(f"sqlite:///{tmp_path / 'state' / 'traderbot.db'}"))
    assert reg.get("GBPUSD").state is PairState.READY
    assert not [o for o in service.kernel.cache.open_ids.values() if o.instrument_id == "GBPUSD"]


def test_a_strategy_that_raises_is_paused_with_the_error_and_the_others_keep_trading(tmp_path: Path) -> None:
    bad = PairSpec("GBPUSD", "15m", str(FIXTURES / "explodes.py"), dict(SMA), "units:1000")
    service = TradingService(settings(tmp_path, (spec("EURUSD"), bad), speed=None))
    running: set[str] = set()

    async def then() -> None:
        running.update(service.host.running)

    asyncio.run(run_until(service, lambda: service.feed.released > 3_000, then=then))
    reg = PairRegistry(open_engine(f"sqlite:///{tmp_path / 'state' / 'traderbot.db'}"))
    assert reg.get("GBPUSD").state is PairState.PAUSED
    last = reg.history("GBPUSD", limit=1)[-1]
    assert "ZeroDivisionError" in last.reason and last.actor == "service"
    assert running == {"EURUSD"}
    late = [t for t in service.kernel.portfolio.trades if t.instrument_id == "EURUSD"]
    assert late  # EURUSD kept trading


def test_a_second_service_in_the_same_folder_is_refused(tmp_path: Path) -> None:
    first = TradingService(settings(tmp_path, (spec("EURUSD"),), speed=1.0))

    async def both() -> None:
        task = asyncio.create_task(first.run())
        await first.started.wait()
        second = TradingService(settings(tmp_path, (spec("EURUSD"),), speed=1.0))
        with pytest.raises(UserError, match="another traderbot service"):
            await second.run()
        first.stop()
        await task

    asyncio.run(both())


def test_the_configuration_file_changes_the_running_service_and_a_bad_edit_changes_nothing(
    tmp_path: Path,
) -> None:
    from traderbot.service.from_config import settings_from_file

    cfg = tmp_path / "traderbot.toml"
    head = '[service]\ndata_dir = "state"\n[replay]\nspeed = "20000"\n'
    pair = '[[pairs]]\nid = "{p}"\ntimeframe = "15m"\nstrategy = "sma_cross"\nparams = {{ fast = 5, slow = 20 }}\n'
    cfg.write_text(head + pair.format(p="EURUSD"))
    service = TradingService(settings_from_file(cfg))
    seen: dict[str, float] = {}

    async def then() -> None:
        t0 = time.monotonic()
        tmp = tmp_path / "edit.tmp"
        tmp.write_text(head + pair.format(p="EURUSD") + pair.format(p="GBPUSD"))
        tmp.replace(cfg)  # as editors save
        while "GBPUSD" not in service.host.running:
            await asyncio.sleep(0.01)
        seen["added"] = time.monotonic() - t0
        cfg.write_text(
            head
            + pair.format(p="EURUSD")
            + pair.format(p="GBPUSD")
            + "[risk.limits]\nmax_order_quantity = -5\n"
        )
        await asyncio.sleep(0.5)
        assert set(service.host.running) == {"EURUSD", "GBPUSD"}  # the bad edit changed nothing
        cfg.write_text(head + pair.format(p="GBPUSD"))  # EURUSD removed from the file
        while "EURUSD" in service.host.running:
            await asyncio.sleep(0.01)

    asyncio.run(run_until(service, lambda: service.feed.released > 100, then=then))
    assert seen["added"] < 1.5
    assert service.config is not None
    outcomes = [v.outcome for v in service.config.history(10)]
    assert any(o.startswith("invalid") for o in outcomes) and sum(o == "applied" for o in outcomes) == 2
    reg = PairRegistry(open_engine(f"sqlite:///{tmp_path / 'state' / 'traderbot.db'}"))
    assert reg.find("EURUSD") is None and "no longer in the configuration" in reg.history("EURUSD")[-1].reason


def test_a_replay_dataset_with_holes_does_not_stop_the_service(tmp_path: Path) -> None:
    """Real 1-minute bars from the stretch where HistData lost every second hour (2023-05): the service plays
    through the holes and trades."""
    import pandas as pd

    from traderbot.data.loader import load_ohlcv_file

    src = (
        Path(__file__).resolve().parents[2].parent
        / "shared"
        / "data"
        / "histdata_fx_m1"
        / "EURUSD_1m.parquet"
    )
    df, _ = load_ohlcv_file(src, instrument="EURUSD", timeframe="1m")
    part = df[
        (df["ts"] >= pd.Timestamp("2023-05-01", tz="UTC")) & (df["ts"] < pd.Timestamp("2023-05-13", tz="UTC"))
    ]
    data = tmp_path / "data"
    data.mkdir()
    part.to_parquet(data / "EURUSD_1m.parquet", index=False)
    gaps = (part["ts"].diff() > pd.Timedelta(minutes=30)).sum()
    assert gaps >= 10  # the holes are really there
    one = PairSpec("EURUSD", "1m", "sma_cross", dict(SMA), "units:1000")
    service = TradingService(settings(tmp_path, (one,), dataset=str(data), speed=None, exit_at_end=True))
    asyncio.run(service.run())
    assert service.feed.released == len(part) and service.kernel.portfolio.trades


def test_the_service_keeps_its_state_in_any_database_and_resumes_from_it(
    tmp_path: Path, any_db_url: str
) -> None:
    """The same run on SQLite and on the real PostgreSQL server: orders, fills and pairs stored, then a restart
    rebuilds the same positions from them."""
    pairs = (spec("EURUSD"),)
    first = TradingService(settings(tmp_path, pairs, speed=None, exit_at_end=True, database_url=any_db_url))
    asyncio.run(first.run())
    net = {k: v for k, v in first.kernel.portfolio._net.items() if v}
    again = TradingService(settings(tmp_path, pairs, speed=None, exit_at_end=True, database_url=any_db_url))
    again._build()
    assert len(again.kernel.cache.orders) == len(first.kernel.cache.orders) > 0
    assert {k: v for k, v in again.kernel.portfolio._net.items() if v} == net
    assert (
        again.registry.get("EURUSD").state is PairState.TRADING
    )  # meant to trade: it resumes on the restart
    again.engine.dispose()


def test_a_pair_without_a_rate_to_the_account_currency_is_locked_and_the_service_keeps_trading(
    tmp_path: Path,
) -> None:
    """EURCAD in a USD account needs a CAD/USD rate to value its fills; the samples have no USDCAD. The pair is
    refused at its start with the fix in one sentence (before, its first fill stopped the whole service), and
    GBP, given by GBPUSD, is fine for EURGBP whatever the order the pairs start in."""
    pairs = (spec("EURCAD"), spec("EURGBP"), spec("GBPUSD"), spec("EURUSD"))
    service = TradingService(settings(tmp_path, pairs, speed=None))
    running: set[str] = set()

    async def then() -> None:
        running.update(service.host.running)

    asyncio.run(run_until(service, lambda: service.feed.released > 3_000, then=then))
    reg = PairRegistry(open_engine(f"sqlite:///{tmp_path / 'state' / 'traderbot.db'}"))
    assert running == {"EURGBP", "GBPUSD", "EURUSD"}
    assert reg.get("EURCAD").state is PairState.PAUSED
    assert reg.history("EURCAD", limit=1)[-1].reason == (
        "could not start: EURCAD settles in CAD and no CAD/USD rate is available to value it in USD: add and "
        "start USDCAD (or CADUSD) first, then start EURCAD again"
    )
    assert any(t.instrument_id == "EURGBP" for t in service.kernel.portfolio.trades)

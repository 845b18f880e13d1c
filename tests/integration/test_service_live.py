"""The trading service in live mode against the OANDA wire-protocol fake on 127.0.0.1: history warmed from
candles, new complete candles dispatched through the kernel, orders sent to the broker and fills booked,
indicators grown causally, broker outages survived, pairs enabled while running, and the CLI's one-line errors.

The fake's candles are stamped in the recent past, so each one appended (which completes the one before it: the
fake serves its newest candle as still forming) is due at once and the feed's retry interval paces the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from tests.contract.oanda.support import TOKEN, config_for
from tests.fakes.oanda_fake import OandaFake
from tests.service_harness import run_service, until

from traderbot.brokers.oanda import OandaBroker
from traderbot.cli import main as cli_main
from traderbot.indicators import sma
from traderbot.pairs import PairRegistry
from traderbot.service.service import TradingService
from traderbot.service.settings import PairSpec, ServiceSettings
from traderbot.store.db import open_engine
from traderbot.store.journal import SqlOrderJournal

ROOT = Path(__file__).resolve().parents[2]
MINUTE = 60 * 10**9
START = (time.time_ns() // MINUTE - 200) * MINUTE  # the first candle: 200 minutes ago, on a minute boundary
FLIP = '''
from traderbot.indicators import sma
from traderbot.strategies.base import Strategy


class Flip(Strategy):
    """Buys 1000 on a bar when flat, closes on the next: one order per bar, whatever the prices."""

    name = "flip"

    def on_start(self):
        self.avg = self.I(sma, self.data.close, 5)
        self.seen = []

    def on_bar(self, bar):
        self.seen.append(bar.ts)
        if self.position() == 0:
            self.buy(1000)
        else:
            self.close()
'''


def rows(n: int, first: int = 0) -> list[tuple[int, str, str, str, str, int]]:
    """Mid candles `first` .. `first + n - 1` (1-minute, from START), with prices that wander."""
    out = []
    for i in range(first, first + n):
        c = Decimal("1.10000") + Decimal((i * 37) % 23) * Decimal("0.00010")
        out.append(
            (START + i * MINUTE, str(c), str(c + Decimal("0.0003")), str(c - Decimal("0.0003")), str(c), 10)
        )
    return out


class Candles:
    """The fake's candles of one pair, grown one complete candle at a time."""

    def __init__(self, fake: OandaFake, pair: str, n: int) -> None:
        self.fake, self.pair, self.rows = fake, pair, rows(n)
        fake.set_candles(pair, "M1", self.rows)

    def complete_next(self) -> None:
        self.rows.append(rows(1, len(self.rows))[0])
        self.fake.set_candles(self.pair, "M1", self.rows)

    def closes(self, n: int) -> np.ndarray:
        return np.array([float(r[4]) for r in self.rows[:n]])


@pytest.fixture
def fake() -> Iterator[OandaFake]:
    with OandaFake(token=TOKEN, heartbeat=0.2) as server:
        yield server


@pytest.fixture
def flip(tmp_path: Path) -> str:
    path = tmp_path / "flip.py"
    path.write_text(FLIP)
    return str(path)


def live(tmp_path: Path, pairs: tuple[PairSpec, ...], **kw: object) -> ServiceSettings:
    base: dict[str, object] = {"data_dir": tmp_path / "state", "pairs": pairs, "mode": "live", "broker": "oanda",
                               "warm_bars": 100, "bar_grace_s": 0.0, "bar_retry_s": 0.05, "poll_s": 0.05}  # fmt: skip
    base.update(kw)
    return ServiceSettings(**base)  # type: ignore[arg-type]


def service_on(fake: OandaFake, settings: ServiceSettings) -> TradingService:
    return TradingService(settings, broker=OandaBroker(config_for(fake)))


def test_a_live_pair_warms_from_candles_then_trades_each_new_candle_through_the_broker(
    tmp_path: Path, fake: OandaFake, flip: str
) -> None:
    candles = Candles(fake, "EURUSD", 150)  # 149 complete
    service = service_on(fake, live(tmp_path, (PairSpec("EURUSD", "1m", flip, {}, "units:1000"),)))

    async def body() -> None:
        await until(lambda: "EURUSD" in service.host.running, what="EURUSD trading")
        sid = service.host.running["EURUSD"].sid
        series = service.kernel.cache.series[sid]
        assert len(series) == 100 and int(series.ts[-1]) == START + 148 * MINUTE  # the newest 100 complete
        assert service.kernel.cache.visible[sid] == 100  # history visible at once, not dispatched
        strategy = service.host.running["EURUSD"].strategy
        assert strategy.seen == []  # type: ignore[attr-defined]
        for k in range(3):
            candles.complete_next()
            await until(lambda k=k: len(strategy.seen) == k + 1, what=f"bar {k + 1}")  # type: ignore[attr-defined]
        assert strategy.seen == [START + i * MINUTE for i in (149, 150, 151)]  # type: ignore[attr-defined]
        portfolio = service.kernel.portfolio
        await until(
            lambda: len(portfolio.trades) >= 1 and portfolio.net_quantity("EURUSD") == 1000, what="fills"
        )
        fake.set_price("EURUSD", "1.20000", "1.20020")
        await until(lambda: service.kernel.risk.quotes.get("EURUSD", (0, 0))[1] == Decimal("1.20010"),
                    what="the streamed price as the risk engine's reference")  # fmt: skip

    run_service(service, body)
    ours = [o.client_order_id for o in service.kernel.cache.orders.values()]
    assert len(ours) == 3 and all(
        fake.submission_count(c) == 1 for c in ours
    )  # each sent once, to the broker
    engine = open_engine(f"sqlite:///{tmp_path / 'state' / 'traderbot.db'}")
    fills = SqlOrderJournal(engine, "TB").load_fills()
    assert sorted(f.client_order_id for f in fills) == sorted(ours)  # every fill stored
    assert sum(f.quantity if f.side == "buy" else -f.quantity for f in fills) == 1000  # as the portfolio
    engine.dispose()


def test_indicators_grow_causally_and_equal_a_computation_on_the_whole_series(
    tmp_path: Path, fake: OandaFake, flip: str
) -> None:
    candles = Candles(fake, "EURUSD", 150)
    service = service_on(fake, live(tmp_path, (PairSpec("EURUSD", "1m", flip, {}, "units:1000"),)))

    async def body() -> None:
        await until(lambda: "EURUSD" in service.host.running)
        strategy = service.host.running["EURUSD"].strategy
        before = np.array(strategy.avg.values)  # type: ignore[attr-defined]
        for _ in range(4):
            candles.complete_next()
        await until(lambda: len(strategy.seen) == 4)  # type: ignore[attr-defined]
        after = np.array(strategy.avg.values)  # type: ignore[attr-defined]
        closes = candles.closes(153)[-104:]  # the 100 warm bars and the 4 new ones
        assert np.array_equal(np.asarray(strategy.data.close), closes)
        assert np.array_equal(after[: len(before)], before, equal_nan=True)  # the rows seen did not change
        assert np.array_equal(after, sma(closes, 5), equal_nan=True)  # and equal a computation from scratch

    run_service(service, body)


def test_a_broker_outage_during_a_poll_does_not_stop_the_service(
    tmp_path: Path, fake: OandaFake, flip: str
) -> None:
    candles = Candles(fake, "EURUSD", 150)
    service = service_on(fake, live(tmp_path, (PairSpec("EURUSD", "1m", flip, {}, "units:1000"),)))

    async def body() -> None:
        await until(lambda: "EURUSD" in service.host.running)
        strategy = service.host.running["EURUSD"].strategy
        job = service.cache_job  # its first refresh done (the next is minutes away), failures meet the polls
        await until(lambda: job is not None and job.rounds >= 1, what="the cache's first refresh")
        fake.fail_next("candles", 503, count=12)  # three polls in a row, each after the client's own retries
        await until(lambda: service.feed.errors >= 3, what="failed polls")
        candles.complete_next()
        await until(lambda: len(strategy.seen) == 1, what="the bar after the outage")  # type: ignore[attr-defined]
        assert "EURUSD" in service.host.running and not service.stopping.is_set()

    run_service(service, body)


def test_a_pair_enabled_while_running_live_warms_and_trades(
    tmp_path: Path, fake: OandaFake, flip: str
) -> None:
    Candles(fake, "EURUSD", 150)
    gbp = Candles(fake, "GBPUSD", 150)
    pairs = (PairSpec("EURUSD", "1m", flip, {}, "units:1000"),
             PairSpec("GBPUSD", "1m", flip, {}, "units:1000", enabled=False))  # fmt: skip
    service = service_on(fake, live(tmp_path, pairs))

    async def body() -> None:
        await until(lambda: "EURUSD" in service.host.running)
        assert "GBPUSD" not in service.host.running
        other = PairRegistry(open_engine(f"sqlite:///{tmp_path / 'state' / 'traderbot.db'}"))
        other.enable("GBPUSD", actor="ops", reason="go")
        await until(lambda: "GBPUSD" in service.host.running, what="GBPUSD trading")
        gbp.complete_next()
        await until(lambda: any(o.instrument_id == "GBPUSD" for o in service.kernel.cache.orders.values()))
        (order,) = [o for o in service.kernel.cache.orders.values() if o.instrument_id == "GBPUSD"]
        await until(lambda: fake.submission_count(order.client_order_id) == 1, what="the order at the broker")

    run_service(service, body)


def test_a_pair_started_again_catches_up_on_missed_bars_as_history_then_trades_new_ones(
    tmp_path: Path, fake: OandaFake, flip: str
) -> None:
    candles = Candles(fake, "EURUSD", 150)
    service = service_on(fake, live(tmp_path, (PairSpec("EURUSD", "1m", flip, {}, "units:1000"),)))

    async def body() -> None:
        await until(lambda: "EURUSD" in service.host.running)
        sid = service.host.running["EURUSD"].sid
        other = PairRegistry(open_engine(f"sqlite:///{tmp_path / 'state' / 'traderbot.db'}"))
        other.disable("EURUSD", actor="ops", reason="pause")
        await until(lambda: "EURUSD" not in service.host.running)
        candles.complete_next()
        candles.complete_next()  # two bars close while the pair is stopped
        other.enable("EURUSD", actor="ops", reason="resume")
        await until(lambda: "EURUSD" in service.host.running)
        await until(lambda: service.kernel.cache.visible[sid] == 102, what="the missed bars, as history")
        strategy = service.host.running["EURUSD"].strategy
        candles.complete_next()
        await until(lambda: len(strategy.seen) == 1)  # type: ignore[attr-defined]
        assert strategy.seen == [START + 151 * MINUTE]  # type: ignore[attr-defined]  # only the new bar
        assert len(service.kernel.cache.orders) == 1

    run_service(service, body)


def test_a_grown_series_extends_the_pairs_resampled_views_and_their_indicators() -> None:
    """Kernel level: a strategy reading 1h bars of a 15m pair sees the 1h series derived again as 15m bars are
    appended, its indicator on it equal to a computation on the whole data, the 1h bars it saw unchanged."""
    from traderbot.data.series import BarSeries, resample_series
    from traderbot.data.stores import sample_store
    from traderbot.kernel.kernel import Kernel
    from traderbot.model.data import Bar
    from traderbot.model.instrument import get_instrument
    from traderbot.model.timeframe import Timeframe
    from traderbot.strategies.base import Strategy

    full = BarSeries.from_frame(sample_store().read("EURUSD", "15m"), "EURUSD", "15m")
    kernel = Kernel()
    sid = kernel.add_data(get_instrument("EURUSD"), full.slice_time(None, int(full.ts[999])))
    strategy = Strategy()
    kernel.add_strategy(strategy, "EURUSD")
    hours = strategy.bars(timeframe="1h")
    avg = strategy.I(sma, hours.close, 3)
    kernel.cache.visible[sid], kernel.cache.now_ns = 1000, int(full.ts_close[999])
    seen = np.asarray(avg.values).copy()
    for i in range(1000, 1100):
        cols = (full.open[i], full.high[i], full.low[i], full.close[i], full.volume[i])
        row = kernel.extend_series(
            sid, [Bar("EURUSD", "15m", int(full.ts[i]), int(full.ts_close[i]), *map(float, cols))]
        )
        kernel.cache.visible[sid], kernel.cache.now_ns = row + 1, int(full.ts_close[i])
    whole = resample_series(full.slice_time(None, int(full.ts[1099])), Timeframe.parse("1h"))
    n = len(hours)
    assert n > len(seen) and np.array_equal(np.asarray(hours.close), whole.close[:n])
    assert np.array_equal(np.asarray(avg.values), sma(whole.close, 3)[:n], equal_nan=True)
    assert np.array_equal(np.asarray(avg.values)[: len(seen)], seen, equal_nan=True)


# ---- the CLI ---------------------------------------------------------------------------------------------------
CONFIG = """[service]
data_dir = "state"
mode = "live"
[broker]
name = "oanda"
[[pairs]]
id = "EURUSD"
timeframe = "1m"
strategy = "sma_cross"
params = { fast = 5, slow = 20 }
"""


def _env(fake: OandaFake | None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("OANDA_") and k != "TRADERBOT_SECRETS_FILE"
    }
    env["PYTHONPATH"] = str(ROOT / "src")
    if fake is not None:
        env.update(OANDA_API_TOKEN=TOKEN, OANDA_ACCOUNT_ID=fake.account_id, OANDA_REST_URL=fake.url,
                   OANDA_STREAM_URL=fake.url)  # fmt: skip
    return env


def test_a_failed_first_reconciliation_stops_run_with_one_sentence(tmp_path: Path, fake: OandaFake) -> None:
    (tmp_path / "traderbot.toml").write_text(CONFIG)
    fake.fail_next("orders.pending", 503, count=20)  # the broker cannot list its pending orders
    proc = subprocess.run([sys.executable, "-m", "traderbot.cli", "run", "--quiet"], cwd=tmp_path, env=_env(fake),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert "not trading: reconciliation failed" in line and "Traceback" not in proc.stderr
    assert not fake.submissions  # nothing was sent


def test_missing_credentials_and_replay_flags_are_refused_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "traderbot.toml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("OANDA_") or k == "TRADERBOT_SECRETS_FILE"]:
        monkeypatch.delenv(key)
    assert cli_main(["run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: OANDA_API_TOKEN is not set") and "\n" not in err
    assert cli_main(["run", "--mode", "live", "--speed", "60", "--exit-at-end"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--speed, --exit-at-end only apply to a paper replay" in err and "\n" not in err
    assert not (tmp_path / "state").exists()  # refused before anything was written

"""A running strategy switches to a newly activated parameter version without a restart."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pytest

from traderbot.data.loader import load_ohlcv_file
from traderbot.data.series import BarSeries
from traderbot.kernel.kernel import Kernel
from traderbot.model.instrument import get_instrument
from traderbot.pairs import PairRegistry, PairState
from traderbot.pairs.follow import ParamsFollower
from traderbot.risk.sizing import Sizing
from traderbot.store.db import open_engine, sqlite_url
from traderbot.strategies.qfh import Qfh

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "oanda_fx_m15" / "EURUSD_15m.parquet"
OLD, NEW = {"window": 11}, {"window": 24, "buy_threshold": 0.56, "sell_threshold": 0.56}


def kernel() -> Kernel:
    k = Kernel(account_currency="USD", starting_cash=D(10_000))
    df, _ = load_ohlcv_file(DATA, instrument="EURUSD", timeframe="15m")
    k.add_data(get_instrument("EURUSD"), BarSeries.from_frame(df, "EURUSD", "15m"))
    return k


def orders_by_bar(k: Kernel) -> list[tuple[int, str]]:
    return sorted((o.ts_init, o.side.value) for o in k.cache.orders.values())


def run_switching_at(half: int, switch: bool, tmp_path: Path) -> tuple[Kernel, Qfh, ParamsFollower]:
    k = kernel()
    strat = Qfh(**OLD)
    k.add_strategy(strat, "EURUSD", Sizing.parse("units:1000"))
    registry = PairRegistry(open_engine(sqlite_url(tmp_path / f"tb{int(switch)}.db")), bus=k.bus)
    follower = ParamsFollower(k)
    registry.add("EURUSD", actor="t", reason="t", timeframe="15m")
    registry.transition("EURUSD", PairState.TRAINING, actor="t", reason="t")
    registry.activate_params("EURUSD", registry.save_params("EURUSD", "qfh", OLD, {}, source="t"), actor="t",
                             reason="t")  # fmt: skip
    registry.transition("EURUSD", PairState.READY, actor="t", reason="t")
    ts, sid, row = k.schedule()
    k.start()
    k.run_events(ts[:half], sid[:half], row[:half])
    if switch:
        v = registry.save_params("EURUSD", "qfh", NEW, {"oos_quality": 61.0}, source="training job 9")
        registry.activate_params("EURUSD", v, actor="trainer", reason="passed the gate")
    k.run_events(ts[half:], sid[half:], row[half:])
    k.stop()
    return k, strat, follower


def test_activating_a_version_switches_the_running_strategy_from_the_next_bar(tmp_path: Path) -> None:
    k0, _, _ = run_switching_at(3_000, switch=False, tmp_path=tmp_path)
    k1, strat, follower = run_switching_at(3_000, switch=True, tmp_path=tmp_path)
    cut = int(k1.schedule()[0][2_999])
    before0 = [o for o in orders_by_bar(k0) if o[0] <= cut]
    before1 = [o for o in orders_by_bar(k1) if o[0] <= cut]
    assert before1 == before0  # nothing before the switch changed
    assert strat.params["window"] == 24 and follower.switched == [("EURUSD", strat.strategy_id, 2)]
    assert [o for o in orders_by_bar(k1) if o[0] > cut] != [o for o in orders_by_bar(k0) if o[0] > cut]
    # after the switch it trades exactly as the new parameters do: the same signals bar by bar
    c = k1.cache.series[0]
    fresh = Qfh(**NEW)
    fresh.pip_size = 0.0001
    sig = fresh.signals(c.open, c.high, c.low, c.close, c.volume)
    assert strat._cursor is not None
    assert np.array_equal(np.asarray(strat._cursor[0]), sig)  # the view the strategy reads bar by bar


def test_a_version_the_strategy_refuses_leaves_it_running_on_its_parameters(tmp_path: Path) -> None:
    k = kernel()
    strat = Qfh(**OLD)
    k.add_strategy(strat, "EURUSD")
    follower = ParamsFollower(k)
    from traderbot.pairs.events import ParamsActivated

    follower.apply(ParamsActivated("EURUSD", 3, {"window": 999}, 0, strategy="qfh"))
    assert strat.params["window"] == 11
    assert follower.refused and follower.refused[0][2] == 3 and "window" in follower.refused[0][3]
    with pytest.raises(Exception, match="window"):
        strat.switch_params({"window": 999})

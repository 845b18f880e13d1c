"""Training one pair end to end on real 1-minute bars: search, walk-forward, overfitting statistics, the gate."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from traderbot.errors import UserError
from traderbot.strategies.qfh import Qfh
from traderbot.training.pipeline import train_pair

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "histdata_fx_m1"
SPACE = {
    "buy_threshold": [0.5, 0.6],
    "sell_threshold": [0.5, 0.6],
    "conf_min": 0.0,
    "coh_min": 0.0,
    "stab_min": 0.0,
}  # candidates that trade: the declared ranges reach thresholds that never fire
BASE: dict[str, Any] = {"pair": "EURUSD", "data_dir": str(DATA), "start": "2023-08-05", "trials": 12,
                        "train_weeks": 3, "min_trades": 5, "space": SPACE}  # fmt: skip


@pytest.fixture(scope="module")
def short() -> dict[str, Any]:
    return train_pair({**BASE, "end": "2023-10-14"})


@pytest.fixture(scope="module")
def longer() -> dict[str, Any]:
    return train_pair({**BASE, "end": "2023-11-11"})


def test_a_training_report_puts_out_of_sample_beside_in_sample_and_judges_it(short: dict[str, Any]) -> None:
    assert short["evaluated"] == 12
    assert short["folds"] and all(f["out_of_sample"] is not None for f in short["folds"])
    assert short["in_sample_mean"]["sharpe"] is not None and short["out_of_sample"]["days"] > 0
    assert set(short["deflated_sharpe"]) >= {"sharpe", "sr0", "psr", "dsr", "n_trials"}
    assert short["deflated_sharpe"]["n_trials"] == 12
    assert 0.0 <= short["pbo"]["pbo"] <= 1.0
    assert isinstance(short["gate"]["passed"], bool)
    if not short["gate"]["passed"]:
        assert short["gate"]["reasons"]  # a refusal always says why


def test_each_fold_trains_before_it_tests_and_test_weeks_tile(short: dict[str, Any]) -> None:
    folds = short["folds"]
    for f in folds:
        assert f["train_start"] < f["test_start"] < f["test_end"]
    for a, b in itertools.pairwise(folds):
        assert a["test_end"] == b["test_start"]


def test_more_data_later_changes_no_earlier_fold(short: dict[str, Any], longer: dict[str, Any]) -> None:
    """No look-ahead: four more weeks of bars after the end change neither the candidates chosen in the earlier
    folds nor their out-of-sample figures."""
    assert len(longer["folds"]) > len(short["folds"])
    assert any(f["chosen"] >= 0 for f in short["folds"])
    for a, b in zip(short["folds"], longer["folds"], strict=False):
        assert (a["test_start"], a["chosen"], a["params"]) == (b["test_start"], b["chosen"], b["params"])
        for key in ("trades", "total_return", "signals", "hits"):
            assert a["out_of_sample"][key] == pytest.approx(b["out_of_sample"][key], rel=1e-12, abs=1e-12), (
                key
            )


def test_the_deployed_parameters_are_the_best_on_the_last_training_weeks(short: dict[str, Any]) -> None:
    assert short["params"] is not None
    assert short["deploy_in_sample"]["trades"] >= BASE["min_trades"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pair": "XXXYYY"}, "XXXYYY"),
        ({"pair": "EURJPY"}, "no 1m data for EURJPY"),
        ({"space": {n: p.default for n, p in Qfh.parameters().items()}}, "training space is empty"),
        ({"space": {"window": [20, 10]}}, "swap them"),
        ({"space": {"nope": [1, 2]}}, "unknown parameter"),
        ({"space": {"window": [2, 10]}}, "out of range"),
        ({"objective": "luck"}, "unknown objective"),
        ({"trials": 1}, "at least 2 trials"),
        ({"start": "2023-08-05", "end": "2023-08-20"}, "cannot hold one fold"),
        ({"bogus": 1}, "unknown training setting"),
    ],
)
def test_bad_training_input_is_refused_with_the_reason(change: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError, match=message):
        train_pair({**BASE, "end": "2023-10-14", **change})


def test_no_candidate_trading_enough_fails_the_gate_with_the_reason() -> None:
    res = train_pair({**BASE, "end": "2023-10-14", "min_trades": 10**9})
    assert res["params"] is None and not res["gate"]["passed"]
    assert any("nothing to deploy" in r for r in res["gate"]["reasons"])


def test_equity_kept_per_day_agrees_with_the_simulators_own_sharpe() -> None:
    from decimal import Decimal

    from traderbot.backtest import _sweep_kernel as K
    from traderbot.data.loader import load_ohlcv_file
    from traderbot.data.series import BarSeries
    from traderbot.model.instrument import get_instrument
    from traderbot.training.evaluate import daily_returns, evaluate, prepare

    inst = get_instrument("EURUSD")
    df, _ = load_ohlcv_file(DATA / "EURUSD_1m.parquet", instrument=inst, timeframe="1m")
    series = BarSeries.from_frame(df, "EURUSD", "1m").slice_time(
        int(np.datetime64("2023-08-07", "ns").astype(np.int64)),
        int(np.datetime64("2023-08-26", "ns").astype(np.int64)),
    )
    data = prepare(inst, series, cash=Decimal(10_000))
    ev = evaluate(Qfh, data, {"window": 16})
    r = daily_returns(ev, data)
    o, h, lo, c, _ = data.arrays
    from traderbot.backtest.sweep import _signals

    sig, sl, tp = _signals(Qfh, {"window": 16}, data.arrays, inst, float(inst.tick_size))
    stats = K.simulate(o, h, lo, c, sig, sl, tp, np.zeros(len(c)), data.ends, data.cfgs[False], False,
                       np.zeros((1, 7)), np.zeros(0))  # fmt: skip
    assert ev.equity[-1] == pytest.approx(stats[K.S_FINAL], rel=1e-12)
    assert r.mean() / r.std(ddof=1) * np.sqrt(data.ppy) == pytest.approx(stats[K.S_SHARPE], rel=1e-9)
    assert len(ev.trade_pnl) == int(stats[K.S_TRADES])


def test_a_strategy_without_a_sweep_path_is_trained_on_the_event_engine() -> None:
    """examples/trend_pullback.py is a plain Strategy (no signal arrays): its candidates run as full event-engine
    backtests, and the same walk-forward, statistics and gate apply."""
    example = Path(__file__).resolve().parents[2] / "examples" / "trend_pullback.py"
    res = train_pair({"pair": "EURUSD", "strategy": str(example), "data_dir": str(DATA), "start": "2023-08-05",
                      "end": "2023-09-16", "trials": 3, "train_weeks": 3, "min_trades": 1})  # fmt: skip
    assert res["evaluated"] == 3 and res["folds"]
    assert res["out_of_sample"]["signals"] == 0  # no signal figures off the sweep path
    assert isinstance(res["gate"]["passed"], bool)

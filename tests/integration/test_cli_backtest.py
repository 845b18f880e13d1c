"""`traderbot backtest` and `traderbot optimize` from the command line, including bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from traderbot.cli import main
from traderbot.data.stores import sample_store


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_backtest_json_has_the_documented_fields(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = _run(
        capsys,
        "backtest",
        "--strategy",
        "sma_cross",
        "--pair",
        "EURUSD",
        "--timeframe",
        "15m",
        "--param",
        "fast=10",
        "--param",
        "slow=40",
        "--spread-pips",
        "0.8",
        "--commission-pct",
        "0.002",
        "--json",
        "--out",
        str(tmp_path),
    )
    assert code == 0, err
    doc = json.loads(out)
    for key in ("trades", "final_equity", "total_return", "sharpe", "max_drawdown", "trade_list"):
        assert key in doc
    assert doc["trades"] == len(doc["trade_list"]) > 10
    first = doc["trade_list"][0]
    for key in ("entry_time", "exit_time", "side", "quantity", "entry_price", "exit_price", "pnl"):
        assert key in first
    assert Path(doc["files"]["report_html"]).read_text().startswith("<!DOCTYPE html>")
    trades_csv = pd.read_csv(doc["files"]["trades_csv"])
    assert len(trades_csv) == doc["trades"]
    assert doc["final_equity"] == pytest.approx(
        10_000 + sum(t["pnl"] for t in doc["trade_list"]), rel=1e-6
    ) or (doc["metrics"]["exposure"] > 0)


def test_backtest_of_a_capitalised_csv_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    df = sample_store().read("SPY", "1d").iloc[-800:]
    csv = tmp_path / "spy.csv"
    out_df = df.rename(columns=str.capitalize).set_index("Ts")
    out_df.index = out_df.index.tz_localize(None)
    out_df.index.name = None
    out_df.to_csv(csv)
    code, out, err = _run(
        capsys,
        "backtest",
        "--strategy",
        "sma_cross",
        "--data",
        str(csv),
        "--long-only",
        "--json",
        "--no-report",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["trades"] > 0
    assert all(t["side"] == "long" for t in doc["trade_list"])
    assert any(t["quantity"] != int(t["quantity"]) for t in doc["trade_list"]), (
        "fractional without --lot-size"
    )


def test_optimize_json_lists_every_grid_point(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        capsys,
        "optimize",
        "--strategy",
        "sma_cross",
        "--pair",
        "EURUSD",
        "--timeframe",
        "15m",
        "--grid",
        "fast=5:20:5",
        "--grid",
        "slow=30:60:30",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert len(doc["results"]) == 8
    assert {"params", "final_equity", "trades", "sharpe"} <= set(doc["results"][0])
    best = max((r for r in doc["results"] if r["sharpe"] is not None), key=lambda r: r["sharpe"])
    assert doc["best"]["params"] == best["params"]


def test_optimize_prints_a_heatmap(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "optimize",
        "--strategy",
        "sma_cross",
        "--pair",
        "EURUSD",
        "--grid",
        "fast=5,10",
        "--grid",
        "slow=30,60",
        "--objective",
        "total_return",
    )
    assert code == 0
    assert "heatmap" in out and "best:" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--strategy", "nope", "--pair", "EURUSD"], "unknown strategy 'nope': built-ins are"),
        (["--strategy", "sma_cross", "--pair", "EURXXX"], "unknown instrument 'EURXXX'"),
        (["--strategy", "sma_cross", "--pair", "EURUSD", "--param", "speed=3"], "valid parameters are"),
        (
            ["--strategy", "sma_cross", "--pair", "EURUSD", "--param", "fast=1"],
            "out of range: fast in [2, 500]",
        ),
        (
            ["--strategy", "sma_cross", "--pair", "EURUSD", "--param", "fast=50", "--param", "slow=20"],
            "needs fast < slow",
        ),
        (["--strategy", "sma_cross", "--pair", "EURUSD", "--from", "2030-01-01"], "no bars for EURUSD"),
        (
            ["--strategy", "sma_cross", "--pair", "EURUSD", "--from", "2019-05-01", "--to", "2019-04-01"],
            "--to is before --from",
        ),
        (
            ["--strategy", "sma_cross", "--pair", "EURUSD", "--sizing", "lots:3"],
            "sizing 'lots:3' is not valid",
        ),
        (["--strategy", "sma_cross", "--pair", "EURUSD", "--fill", "later"], "--fill 'later' is not valid"),
        (["--strategy", "sma_cross", "--pair", "EURUSD", "--cash", "-5"], "--cash must be"),
        (["--strategy", "sma_cross", "--pair", "EURUSD", "--timeframe", "7x"], "unknown timeframe"),
    ],
)
def test_bad_backtest_input_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code, _, err = _run(capsys, "backtest", *args, "--no-report")
    assert code == 2
    assert needle in err
    assert "Traceback" not in err
    assert err.count("\n") == 1


def test_nan_prices_in_a_data_file_are_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text(
        "ts,open,high,low,close,volume\n2024-01-01,1,2,0.5,1.5,0\n2024-01-02,1,2,0.5,,0\n"
        "2024-01-03,1,2,0.5,1.6,0\n"
    )
    code, _, err = _run(capsys, "backtest", "--strategy", "sma_cross", "--data", str(csv), "--no-report")
    assert code == 2
    assert "close" in err and "Traceback" not in err


def test_unknown_grid_parameter_lists_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(
        capsys, "optimize", "--strategy", "sma_cross", "--pair", "EURUSD", "--grid", "speed=1:3:1"
    )
    assert code == 2
    assert "valid parameters are" in err and "fast in [2, 500]" in err


def test_unsorted_and_duplicated_rows_are_fixed_and_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    df = sample_store().read("SPY", "1d").iloc[-300:]
    shuffled = pd.concat([df.iloc[150:], df.iloc[:150], df.iloc[10:12]])  # out of order, two duplicates
    csv = tmp_path / "messy.csv"
    shuffled.to_csv(csv, index=False)
    code, out, err = _run(
        capsys, "backtest", "--strategy", "sma_cross", "--data", str(csv), "--json", "--no-report"
    )
    assert code == 0, err
    assert "messy.csv: 2 duplicate timestamps were removed" in err
    assert "rows were out of order and have been sorted" in err
    assert json.loads(out)["bars"] == 300


def test_a_backtest_without_costs_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(
        capsys, "backtest", "--strategy", "sma_cross", "--pair", "EURUSD", "--no-report", "--json"
    )
    assert code == 0
    assert "these results exclude trading costs" in err
    code, _, err = _run(
        capsys,
        "backtest",
        "--strategy",
        "sma_cross",
        "--pair",
        "EURUSD",
        "--no-report",
        "--json",
        "--spread-pips",
        "0.5",
    )
    assert code == 0 and "exclude trading costs" not in err


def test_venue_realism_flags_reach_the_simulated_venue(capsys: pytest.CaptureFixture[str]) -> None:
    import json as _json

    from traderbot.cli import main as _main

    args = ["backtest", "--strategy", "sma_cross", "--pair", "EURUSD", "--timeframe", "15m", "--spread-pips", "1",
            "--no-report", "--json"]  # fmt: skip
    assert _main(args) == 0
    plain = _json.loads(capsys.readouterr().out)
    assert "venue_realism" not in plain["settings"]
    realistic = [*args, "--participation", "0.05", "--latency-ms", "200,200,50", "--slippage", "volume:0.1",
                 "--enforce-market-hours"]  # fmt: skip
    assert _main(realistic) == 0
    out = _json.loads(capsys.readouterr().out)
    assert out["settings"]["venue_realism"] == "latency, participation, enforce_market_hours, slippage_model"
    assert out["final_equity_exact"] != plain["final_equity_exact"]
    assert _main([*args, "--latency-ms", "1,2,3,4"]) == 2
    assert "--latency-ms '1,2,3,4' is not valid" in capsys.readouterr().err

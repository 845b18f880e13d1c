"""A strategy written in one file runs from the CLI: multi-timeframe view, indicators, bracket exits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from traderbot.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trend_pullback.py"


def test_example_strategy_file_backtests_on_two_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "backtest",
            "--strategy",
            str(EXAMPLE),
            "--pair",
            "EURUSD",
            "--pair",
            "GBPUSD",
            "--timeframe",
            "15m",
            "--spread-pips",
            "0.8",
            "--json",
            "--no-report",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    doc = json.loads(out.out)
    assert doc["strategy"] == "trend_pullback"
    assert doc["trades"] > 10
    assert {t["instrument"] for t in doc["trade_list"]} == {"EURUSD", "GBPUSD"}
    # every trade is closed by its own stop loss or take profit: both sides occur
    assert {t["side"] for t in doc["trade_list"]} == {"long", "short"}


def test_strategy_file_with_an_error_names_the_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "broken.py"
    bad.write_text(
        "from traderbot.strategies.base import Strategy\n"
        "class Broken(Strategy):\n"
        "    name = 'broken'\n"
        "    def on_bar(self, bar):\n"
        "        if len(self.data) == 50:\n"
        "            1 / 0\n"
    )
    code = main(["backtest", "--strategy", str(bad), "--pair", "EURUSD", "--no-report"])
    err = capsys.readouterr().err
    assert code == 2
    assert "strategy broken failed at 2019-03-01 12:30:00+00:00: ZeroDivisionError" in err
    assert "broken.py:6" in err and "Traceback" not in err


def test_a_file_without_a_strategy_class_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    empty = tmp_path / "nothing.py"
    empty.write_text("x = 1\n")
    assert main(["backtest", "--strategy", str(empty), "--pair", "EURUSD", "--no-report"]) == 2
    assert "must define exactly one Strategy subclass" in capsys.readouterr().err

"""`traderbot backtest --risk FILE`: the whole risk configuration runs in a backtest and the result counts the
orders each check denied; a bad file is refused with one sentence and a non-zero exit, before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from traderbot.cli import main

RISK = """
[risk]
sizing = "units:10000"

[risk.limits]
max_position_notional = 15000

[risk.flow]
max_repeats = 2
repeat_window_s = 86400

[risk.protections.global]
max_trades_per_day = 1
"""


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _backtest(capsys: pytest.CaptureFixture[str], tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    return _run(capsys, "backtest", "--strategy", "sma_cross", "--pair", "EURUSD", "--timeframe", "15m",
                "--param", "fast=5", "--param", "slow=20", "--spread-pips", "0.8", "--no-report",
                "--out", str(tmp_path), *extra)  # fmt: skip


def test_a_backtest_with_a_risk_file_reports_denials_per_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    f = tmp_path / "risk.toml"
    f.write_text(RISK)
    code, out, err = _backtest(capsys, tmp_path, "--json")
    assert code == 0, err
    free = json.loads(out)
    code, out, err = _backtest(capsys, tmp_path, "--risk", str(f), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["denied"] == sum(doc["denials"].values()) > 0
    assert set(doc["denials"]) <= {"PROTECTION_LOCK", "REPEATED_EXECUTION", "POSITION_LIMIT"}
    assert doc["denials"].get("PROTECTION_LOCK", 0) > 0  # one entry per day
    assert doc["trades"] < free["trades"]
    code, out, err = _backtest(capsys, tmp_path, "--risk", str(f))
    assert code == 0, err
    assert "denied by check: " in out and "PROTECTION_LOCK" in out and "REPEATED_EXECUTION" in out


def test_a_bad_risk_file_is_refused_with_one_sentence_naming_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    f = tmp_path / "risk.toml"
    f.write_text("[risk.limits]\nmax_position_notional = -1\n")
    code, _, err = _backtest(capsys, tmp_path, "--risk", str(f))
    assert code != 0
    assert "risk.limits" in err and "positive" in err
    assert "Traceback" not in err
    f.write_text("[risk.news]\nfile = 'missing.csv'\n")
    code, _, err = _backtest(capsys, tmp_path, "--risk", str(f))
    assert code != 0 and "missing.csv" in err and "Traceback" not in err

"""The same inputs give byte-identical results."""

from __future__ import annotations

from traderbot.cli import main


def test_backtest_json_is_byte_identical_across_runs(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    args = [
        "backtest",
        "--strategy",
        "qfh",
        "--pair",
        "EURUSD",
        "--pair",
        "GBPUSD",
        "--timeframe",
        "15m",
        "--spread-pips",
        "1",
        "--commission-pct",
        "0.002",
        "--json",
        "--no-report",
    ]
    outputs = []
    for _ in range(2):
        assert main(args) == 0
        outputs.append(capsys.readouterr().out.encode())
    assert outputs[0] == outputs[1]
    assert b'"trades"' in outputs[0]

"""`traderbot risk status | lock | unlock | override | validate` against a real database a session wrote."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest
from tests.fakes.memory_broker import MemoryBroker

from traderbot.cli import main
from traderbot.live.session import SessionConfig, TradingSession
from traderbot.model.instrument import get_instrument
from traderbot.risk.config import parse_risk_config


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _trade(db: str) -> None:
    cfg = parse_risk_config({"limits": {"max_order_quantity": 5000}})

    async def run() -> None:
        s = TradingSession(MemoryBroker(), SessionConfig(database_url=db, timer_interval_s=0.002),
                           [get_instrument("EURUSD")], risk_config=cfg)  # fmt: skip
        await s.start()
        o = s.order("S1", "EURUSD", "buy", Decimal(3000))
        s.submit(o)
        for _ in range(500):
            if not o.is_open:
                break
            await asyncio.sleep(0.01)
        assert s.submit(s.order("S1", "EURUSD", "buy", Decimal(9000))) is None
        await s.stop()

    asyncio.run(run())


def test_status_reports_locks_overrides_exposures_limits_and_denials(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'tb.db'}"
    _trade(db)
    cfg = tmp_path / "risk.toml"
    cfg.write_text("[risk.limits]\nmax_order_quantity = 5000\nmax_currency_exposure = 100000\n")
    assert _run(capsys, "risk", "lock", "pair:EURUSD", "halted", "--minutes", "30", "--reason", "NFP",
                "--db", db)[0] == 0  # fmt: skip
    assert _run(capsys, "risk", "override", "pair:EURUSD", "market_hours", "--minutes", "5", "--reason",
                "holiday session", "--db", db)[0] == 0  # fmt: skip
    code, out, err = _run(capsys, "risk", "status", "--db", db, "--config", str(cfg), "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["kill_switch"] == "armed" and r["states"] == {"system": "active"}
    ((lock),) = r["locks"]
    assert (lock["scope"], lock["source"], lock["action"]) == ("pair:EURUSD", "manual", "halted")
    assert r["overrides"][0]["guard"] == "market_hours"
    assert r["exposure_by_pair"]["EURUSD"]["quantity"] == "3000"
    assert set(r["exposure_by_currency"]) == {"EUR", "USD"} and r["exposure_by_currency"]["EUR"] == "3000"
    assert any("max_order_quantity" in line and "max_currency_exposure" in line for line in r["limits"])
    (d,) = r["recent_denials"]
    assert d["reason"] == "QUANTITY_EXCEEDS_MAX: max=5000, order=9000"
    code, out, _ = _run(capsys, "risk", "status", "--db", db)
    assert code == 0 and "manual" in out and "QUANTITY_EXCEEDS_MAX" in out
    code, out, _ = _run(capsys, "risk", "unlock", "pair:EURUSD", "--reason", "released", "--db", db)
    assert code == 0 and "cleared: manual on pair:EURUSD" in out
    assert json.loads(_run(capsys, "risk", "status", "--db", db, "--json")[1])["locks"] == []


def test_bad_operator_input_is_one_sentence_and_a_non_zero_exit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'tb.db'}"
    code, _, err = _run(capsys, "risk", "override", "pair:EURUSD", "limits", "--minutes", "5", "--reason", "x",
                        "--db", db)  # fmt: skip
    assert code == 2 and "cannot be overridden" in err
    code, _, err = _run(capsys, "risk", "unlock", "pair:EURUSD", "--reason", "x", "--db", db)
    assert code == 2 and "no lock on pair:EURUSD" in err
    bad = tmp_path / "risk.toml"
    bad.write_text("[risk.collar]\nmax_deviation_pct = 0\n")
    code, _, err = _run(capsys, "risk", "validate", str(bad))
    assert code == 2 and "risk.collar" in err and "Traceback" not in err
    bad.write_text("[risk.collar]\nmax_deviation_pct = 2\n")
    code, out, _ = _run(capsys, "risk", "validate", str(bad))
    assert code == 0 and "valid" in out

"""`traderbot orders | positions | reconcile` on a real database, against the OANDA fake."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
from tests.fakes.oanda_fake import OandaFake

from traderbot.brokers.credentials import Secret
from traderbot.brokers.oanda import OandaBroker, OandaConfig
from traderbot.cli import main
from traderbot.live.session import SessionConfig, TradingSession
from traderbot.model.instrument import get_instrument
from traderbot.model.order import Order

ACCOUNT = "101-004-1234567-001"


async def _trade(url: str, db: str) -> list[str]:
    broker = OandaBroker(
        OandaConfig(account_id=ACCOUNT, token=Secret("fake-token"), rest_url=url, stream_url=url)
    )
    s = TradingSession(broker, SessionConfig(database_url=db), [get_instrument("EURUSD")])
    await s.start()
    orders: list[Order] = []
    for side, qty in (("buy", 3000), ("sell", 1000)):
        o = s.order("S1", "EURUSD", side, Decimal(qty))
        s.submit(o)
        orders.append(o)
        deadline = time.monotonic() + 10
        while o.is_open and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    await s.stop()
    return [o.client_order_id for o in orders]


@pytest.fixture
def traded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with OandaFake() as fake:
        fake.set_price("EUR_USD", "1.10000", "1.10020")
        db = f"sqlite:///{tmp_path / 'tb.db'}"
        ids = asyncio.run(_trade(fake.url, db))
        monkeypatch.setenv("OANDA_API_TOKEN", "fake-token")
        monkeypatch.setenv("OANDA_ACCOUNT_ID", ACCOUNT)
        monkeypatch.setenv("OANDA_REST_URL", fake.url)
        monkeypatch.setenv("OANDA_STREAM_URL", fake.url)
        yield fake, db, ids


def test_orders_lists_what_the_database_holds(traded, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    _fake, db, ids = traded
    assert main(["orders", "--db", db, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["client_order_id"] for r in rows] == ids
    assert [(r["status"], r["filled"]) for r in rows] == [("filled", "3000"), ("filled", "1000")]
    assert Decimal(rows[0]["avg_price"]) == Decimal("1.1002")  # bought at the ask
    assert main(["orders", "--db", db]) == 0 and ids[0] in capsys.readouterr().out


def test_positions_side_by_side_with_the_broker(traded, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    _fake, db, _ids = traded
    assert main(["positions", "--db", db, "--broker", "oanda", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["EURUSD"]["quantity"] == out["EURUSD"]["broker_quantity"] == "2000"
    assert Decimal(out["EURUSD"]["avg_price"]) == Decimal("1.1002")


def test_reconcile_reports_and_adopts_a_trade_made_by_hand(
    traded, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    fake, db, _ids = traded
    assert main(["reconcile", "--broker", "oanda", "--db", db]) == 0
    assert "no differences" in capsys.readouterr().out
    hand = OandaBroker(OandaConfig(account_id=ACCOUNT, token=Secret("fake-token"), rest_url=fake.url))
    manual = Order("MANUAL-1", "EURUSD", "", get_side("sell"), get_type("market"), Decimal(500), 0)
    asyncio.run(_place(hand, manual))
    assert main(["reconcile", "--broker", "oanda", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "position_adopted EURUSD" in out and "ours 2000, broker 1500" in out
    assert main(["positions", "--db", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["EURUSD"]["quantity"] == "1500"


def test_missing_database_and_credentials_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["orders", "--db", f"sqlite:///{tmp_path / 'none.db'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no order database at") and "\n" not in err
    monkeypatch.delenv("OANDA_API_TOKEN", raising=False)
    monkeypatch.delenv("TRADERBOT_SECRETS_FILE", raising=False)
    assert main(["reconcile", "--broker", "oanda", "--db", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: OANDA_API_TOKEN is not set") and "\n" not in err
    assert main(["reconcile", "--broker", "mtgox", "--db", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    assert "unknown broker 'mtgox'" in capsys.readouterr().err


def get_side(text: str):  # type: ignore[no-untyped-def]
    from traderbot.model.enums import OrderSide

    return OrderSide(text)


def get_type(text: str):  # type: ignore[no-untyped-def]
    from traderbot.model.enums import OrderType

    return OrderType(text)


async def _place(broker: OandaBroker, order: Order) -> None:
    await broker.connect()
    try:
        await broker.submit(order)
    finally:
        await broker.close()


def test_risk_kill_cancels_and_flattens_at_the_broker_and_holds_until_rearmed(  # type: ignore[no-untyped-def]
    traded, capsys: pytest.CaptureFixture[str]
) -> None:
    fake, db, _ids = traded
    hand = OandaBroker(OandaConfig(account_id=ACCOUNT, token=Secret("fake-token"), rest_url=fake.url))
    resting = Order("HAND-LIMIT-1", "EURUSD", "", get_side("buy"), get_type("limit"), Decimal(100), 0,
                    price=Decimal("1.00000"))  # fmt: skip
    asyncio.run(_place(hand, resting))
    kill = [
        "risk",
        "kill",
        "--broker",
        "oanda",
        "--db",
        db,
        "--flatten",
        "--reason",
        "drill",
        "--actor",
        "alice",
    ]
    assert main(kill) == 0
    out = capsys.readouterr().out
    assert "kill switch engaged: 1 orders canceled, 1 positions closed" in out
    assert main(["positions", "--db", db, "--broker", "oanda", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {}  # flat here and at the broker
    assert main(["risk", "state", "system", "active", "--reason", "go", "--db", db]) == 2
    assert "kill switch is engaged: re-arm it first" in capsys.readouterr().err
    assert main(["risk", "rearm", "--reason", "drill over", "--actor", "bob", "--db", db]) == 0
    assert main(["risk", "history", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "alice" in out and "drill over" in out and "kill_switch" in out
    assert main(["risk", "state", "pair:EURUSD", "sideways", "--reason", "x", "--db", db]) == 2
    assert "trading state 'sideways' is not valid" in capsys.readouterr().err

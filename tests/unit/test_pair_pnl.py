"""Realised P&L per pair from stored fills: exact average-cost arithmetic, commissions in the quote currency."""

from __future__ import annotations

from decimal import Decimal as D

from traderbot.core.messages import OrderFilled
from traderbot.pairs.pnl import realized_by_pair


def fill(n: int, pair: str, side: str, qty: str, px: str, fee: str = "0", sid: str = "S") -> OrderFilled:
    return OrderFilled(f"O{n}", pair, sid, n, trade_id=f"T{n}", side=side, quantity=D(qty), price=D(px),
                       commission=D(fee), commission_currency="")  # fmt: skip


def test_round_trips_partial_closes_and_reversals_realise_exactly() -> None:
    fills = [
        fill(1, "EURUSD", "buy", "10000", "1.10000", "0.50"),
        fill(2, "EURUSD", "buy", "10000", "1.10100"),  # average 1.10050
        fill(3, "EURUSD", "sell", "5000", "1.10250"),  # +5000 x 0.00200 = +10.00
        fill(
            4, "EURUSD", "sell", "25000", "1.10150", "0.25"
        ),  # closes 15000 at +0.00100 = +15.00, short 10000
        fill(5, "EURUSD", "buy", "10000", "1.10050"),  # short covered at +0.00100 x 10000 = +10.00
        fill(6, "USDJPY", "sell", "1000", "150.000"),
        fill(7, "USDJPY", "buy", "1000", "150.250"),  # -250 JPY
    ]
    out = realized_by_pair(fills)
    assert out["EURUSD"] == (D("34.25"), "USD")  # 10 + 15 + 10 - 0.50 - 0.25
    assert out["USDJPY"] == (D("-250.000"), "JPY")


def test_strategies_keep_their_own_positions() -> None:
    out = realized_by_pair([fill(1, "EURUSD", "buy", "1000", "1.1000", sid="A"),
                            fill(2, "EURUSD", "sell", "1000", "1.2000", sid="B"),
                            fill(3, "EURUSD", "sell", "1000", "1.1500", sid="A")])  # fmt: skip
    assert out["EURUSD"] == (D("50.0000"), "USD")  # A: +50; B is still short, nothing realised

"""Balances -> BrokerAccount, spot positions with their average cost, fills by time, and the pure mappings."""

from __future__ import annotations

import time
from decimal import Decimal

from tests.contract.ccxt.harness import order, run
from tests.fakes.binance_fake import BinanceFake

from traderbot.brokers.base import BrokerFill
from traderbot.brokers.ccxt import CcxtBroker
from traderbot.brokers.ccxt.mapping import average_cost, split_client_id, to_broker_position
from traderbot.model.enums import OrderSide


def test_spot_positions_use_the_average_cost_of_the_fills_and_the_account_values_them() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        await broker.submit(order("buy", "0.002"))  # at the ask 50000.10
        fake.set_quote("BTCUSDT", Decimal("51000.00"), Decimal("51000.40"))
        await broker.submit(order("buy", "0.002"))
        await broker.submit(order("sell", "0.001"))  # at 51000.00: the average cost does not move
        [pos] = await broker.positions()
        assert pos.instrument_id == "BTCUSDT" and pos.quantity == Decimal("0.003")
        assert pos.avg_price == Decimal("50500.25")  # (0.002 * 50000.10 + 0.002 * 51000.40) / 0.004
        assert pos.unrealized_pnl == (Decimal("51000.00") - Decimal("50500.25")) * Decimal("0.003")
        account = await broker.account()
        usdt = fake.free["USDT"] + fake.locked["USDT"]
        assert account.currency == "USDT" and account.balance == usdt
        assert account.equity == usdt + Decimal("0.003") * Decimal("51000.00")
        assert account.margin_available == fake.free["USDT"]

    run(scenario)


def test_fills_since_a_time_only_returns_later_executions() -> None:
    async def scenario(fake: BinanceFake, broker: CcxtBroker) -> None:
        await broker.submit(order("buy", "0.001"))
        fake.trades[-1]["time"] -= 3_600_000  # an hour ago
        cut = time.time_ns() - 60_000_000_000
        second = order("buy", "0.002")
        await broker.submit(second)
        recent = await broker.fills(cut)
        assert [f.client_order_id for f in recent] == [second.client_order_id]
        assert [f.quantity for f in await broker.fills()] == [Decimal("0.001"), Decimal("0.002")]

    run(scenario)


def _fill(side: str, qty: str, price: str) -> BrokerFill:
    return BrokerFill("t", "c", "v", "BTCUSDT", OrderSide(side), Decimal(qty), Decimal(price), 0)


def test_average_cost_restarts_when_the_position_flips() -> None:
    fills = [_fill("buy", "1", "100"), _fill("buy", "1", "110"), _fill("sell", "3", "120")]
    assert average_cost(fills) == (Decimal("-1"), Decimal("120"))
    assert average_cost([*fills[:2], _fill("sell", "2", "130")]) == (Decimal(0), Decimal(0))


def test_derivative_positions_are_signed_by_side_and_sized_by_contract() -> None:
    short = {
        "contracts": "3",
        "contractSize": "0.001",
        "side": "short",
        "entryPrice": "60000.5",
        "unrealizedPnl": "-1.2",
    }
    pos = to_broker_position(short, "BTCUSDTPERP")
    assert pos is not None and pos.quantity == Decimal("-0.003") and pos.avg_price == Decimal("60000.5")
    assert to_broker_position({"contracts": "0", "side": "long"}, "X") is None


def test_replacement_client_ids_map_back_to_ours() -> None:
    assert split_client_id("O-T1-S1-7.r12") == ("O-T1-S1-7", 12)
    assert split_client_id("O-T1-S1-7") == ("O-T1-S1-7", 0)

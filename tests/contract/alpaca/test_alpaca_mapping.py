"""Alpaca's order statuses and trade-update events -> ours (pure conversions, no network)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from traderbot.brokers.alpaca.mapping import next_replacement_id, order_status, parse_ts
from traderbot.brokers.alpaca.stream import trade_update_events
from traderbot.brokers.base import MalformedMessage
from traderbot.core.messages import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
)
from traderbot.model.enums import OrderStatus as S


@pytest.mark.parametrize(
    ("status", "filled", "ours"),
    [
        ("new", "0", S.ACCEPTED),
        ("accepted", "0", S.ACCEPTED),
        ("pending_new", "0", S.ACCEPTED),
        ("held", "0", S.ACCEPTED),
        ("partially_filled", "3", S.PARTIALLY_FILLED),
        ("done_for_day", "0", S.ACCEPTED),  # still working tomorrow (GTC)
        ("done_for_day", "2", S.PARTIALLY_FILLED),
        ("pending_cancel", "0", S.ACCEPTED),  # open until Alpaca confirms
        ("filled", "10", S.FILLED),
        ("canceled", "4", S.CANCELED),
        ("expired", "0", S.EXPIRED),
        ("rejected", "0", S.REJECTED),
        ("replaced", "0", S.CANCELED),  # only seen when its replacement cannot be followed
    ],
)
def test_order_status_mapping(status: str, filled: str, ours: S) -> None:
    assert order_status({"id": "x", "status": status, "filled_qty": filled}) is ours


def test_unknown_order_status_is_malformed() -> None:
    with pytest.raises(MalformedMessage, match="unknown status"):
        order_status({"id": "x", "status": "teleported", "filled_qty": "0"})


def _update(event: str, cid: str = "O-1", **extra: Any) -> dict[str, Any]:
    order = {
        "id": "a1",
        "client_order_id": cid,
        "symbol": "AAPL",
        "side": "sell",
        "qty": "5",
        "limit_price": "9.5",
    }
    return {"event": event, "timestamp": "2024-03-01T15:04:05.123456789Z", "order": order, **extra}


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ("new", OrderAccepted),
        ("canceled", OrderCanceled),
        ("expired", OrderExpired),
        ("rejected", OrderRejected),
        ("replaced", OrderUpdated),
        ("order_cancel_rejected", OrderCancelRejected),
    ],
)
def test_trade_update_events_map_to_our_events(event: str, kind: type) -> None:
    (ev,) = trade_update_events(_update(event))
    assert type(ev) is kind and ev.client_order_id == "O-1" and ev.ts == 1709305445123456789


def test_fill_event_carries_the_execution_not_the_order_totals() -> None:
    (ev,) = trade_update_events(
        _update("partial_fill", execution_id="e-9", qty="2", price="9.51", position_qty="-2")
    )
    assert isinstance(ev, OrderFilled)
    assert (ev.trade_id, ev.side, ev.quantity, ev.price, ev.venue_order_id) == (
        "e-9",
        "sell",
        2,
        Decimal("9.51"),
        "a1",
    )


def test_replacement_going_live_is_an_update_under_our_id() -> None:
    (ev,) = trade_update_events(_update("new", cid="O-1~r2"))
    assert isinstance(ev, OrderUpdated) and ev.client_order_id == "O-1"
    assert (ev.quantity, ev.price) == (Decimal("5"), Decimal("9.5"))
    assert next_replacement_id("O-1") == "O-1~r1" and next_replacement_id("O-1~r2") == "O-1~r3"


def test_quiet_events_yield_nothing_and_broken_ones_are_malformed() -> None:
    assert trade_update_events(_update("pending_new")) == []
    assert trade_update_events(_update("done_for_day")) == []
    with pytest.raises(MalformedMessage):
        trade_update_events(_update("fill", qty="2", price="1"))  # no execution_id
    with pytest.raises(MalformedMessage):
        trade_update_events({"event": "fill"})
    with pytest.raises(MalformedMessage):
        trade_update_events(_update("fill", execution_id="e", qty="two", price="1"))


def test_timestamps_keep_nanoseconds_and_offsets() -> None:
    assert parse_ts("1970-01-01T00:00:01.000000001Z") == 1_000_000_001
    assert parse_ts("1970-01-01T01:00:00+01:00") == 0
    assert parse_ts("2024-03-01T15:04:05Z") == 1709305445_000_000_000
    with pytest.raises(MalformedMessage):
        parse_ts("yesterday")

"""Illegal order transitions are logged with the order id; a stray venue event does not stop the kernel."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from traderbot.core.messages import OrderAccepted, OrderCanceled, OrderExpired
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderStatus, OrderType
from traderbot.model.order import Order
from traderbot.model.order_states import InvalidStateTransition, OrderEventKind


def _order() -> Order:
    return Order("O-TB-s-000001", "EURUSD", "s", OrderSide.BUY, OrderType.MARKET, Decimal(1000), 0)


def test_an_illegal_transition_raises_and_is_logged_with_the_order_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    o = _order()
    with caplog.at_level(logging.ERROR, logger="traderbot.orders"), pytest.raises(InvalidStateTransition):
        o.apply(OrderEventKind.FILLED)
    assert "O-TB-s-000001" in caplog.text and "'filled' is not allowed in status 'initialized'" in caplog.text
    assert o.status is OrderStatus.INITIALIZED


def test_a_stray_venue_event_is_counted_and_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    k = Kernel()
    o = _order()
    k.cache.orders[o.client_order_id] = o
    o.apply(OrderEventKind.SUBMITTED)
    k.execution.on_event(OrderCanceled(o.client_order_id, "EURUSD", "s", 1))  # canceled before any ack
    with caplog.at_level(logging.ERROR, logger="traderbot.orders"):
        k.execution.on_event(OrderExpired(o.client_order_id, "EURUSD", "s", 2))  # expiry of a dead order
    assert o.status is OrderStatus.CANCELED
    assert k.execution.illegal_events == 1
    assert "O-TB-s-000001" in caplog.text


def test_a_repeated_acknowledgement_is_dropped_quietly(caplog: pytest.LogCaptureFixture) -> None:
    k = Kernel()
    o = _order()
    k.cache.orders[o.client_order_id] = o
    o.apply(OrderEventKind.SUBMITTED)
    with caplog.at_level(logging.ERROR, logger="traderbot.orders"):
        k.execution.on_event(OrderAccepted(o.client_order_id, "EURUSD", "s", 1, venue_order_id="V-1"))
        k.execution.on_event(OrderAccepted(o.client_order_id, "EURUSD", "s", 2, venue_order_id="V-1"))
    assert o.status is OrderStatus.ACCEPTED and o.venue_order_id == "V-1"
    assert k.execution.duplicate_acks == 1 and k.execution.illegal_events == 0
    assert caplog.text == ""

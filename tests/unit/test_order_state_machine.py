"""The order state machine: every legal (status, event) pair, every illegal one, and the venue realities the
table admits (fill after a cancel request, repeated cancels, failed cancel/modify returning to the previous
working state). The expected table is written out by hand here, independently of `order_states.TRANSITIONS`."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from traderbot.model.enums import OrderSide, OrderStatus, OrderType
from traderbot.model.order import Order
from traderbot.model.order_states import InvalidStateTransition, OrderEventKind

S = OrderStatus
E = OrderEventKind

WORKING_COMMON = {
    E.PENDING_UPDATE: S.PENDING_UPDATE,
    E.PENDING_CANCEL: S.PENDING_CANCEL,
    E.CANCELED: S.CANCELED,
    E.EXPIRED: S.EXPIRED,
    E.PARTIALLY_FILLED: S.PARTIALLY_FILLED,
    E.FILLED: S.FILLED,
}

EXPECTED: dict[S, dict[E, S]] = {
    S.INITIALIZED: {E.DENIED: S.DENIED, E.SUBMITTED: S.SUBMITTED, E.REJECTED: S.REJECTED},
    S.SUBMITTED: {
        E.ACCEPTED: S.ACCEPTED,
        E.REJECTED: S.REJECTED,
        E.CANCELED: S.CANCELED,
        E.PENDING_CANCEL: S.PENDING_CANCEL,
        E.PARTIALLY_FILLED: S.PARTIALLY_FILLED,
        E.FILLED: S.FILLED,
        E.EXPIRED: S.EXPIRED,
    },
    S.ACCEPTED: {**WORKING_COMMON, E.TRIGGERED: S.TRIGGERED, E.UPDATED: S.ACCEPTED, E.REJECTED: S.REJECTED},
    S.TRIGGERED: {**WORKING_COMMON, E.TRIGGERED: S.TRIGGERED, E.UPDATED: S.TRIGGERED, E.REJECTED: S.REJECTED},
    S.PARTIALLY_FILLED: {**WORKING_COMMON, E.TRIGGERED: S.PARTIALLY_FILLED, E.UPDATED: S.PARTIALLY_FILLED},
    S.PENDING_UPDATE: {
        E.UPDATED: S.ACCEPTED,
        E.MODIFY_REJECTED: S.ACCEPTED,
        E.PARTIALLY_FILLED: S.PARTIALLY_FILLED,
        E.FILLED: S.FILLED,
        E.CANCELED: S.CANCELED,
        E.PENDING_CANCEL: S.PENDING_CANCEL,
        E.EXPIRED: S.EXPIRED,
    },
    S.PENDING_CANCEL: {
        E.PENDING_CANCEL: S.PENDING_CANCEL,
        E.CANCELED: S.CANCELED,
        E.CANCEL_REJECTED: S.ACCEPTED,
        E.PARTIALLY_FILLED: S.PENDING_CANCEL,
        E.FILLED: S.FILLED,
        E.EXPIRED: S.EXPIRED,
    },
    S.CANCELED: {E.CANCELED: S.CANCELED, E.FILLED: S.FILLED, E.PARTIALLY_FILLED: S.CANCELED},
    S.DENIED: {},
    S.REJECTED: {},
    S.FILLED: {},
    S.EXPIRED: {},
}

LEGAL = [(s, e, new) for s, row in EXPECTED.items() for e, new in row.items()]
ILLEGAL = [(s, e) for s in S for e in E if e not in EXPECTED[s]]


def order(oid: str = "O-TB-test-000001", quantity: D = D(100)) -> Order:
    return Order(oid, "EURUSD", "test", OrderSide.BUY, OrderType.LIMIT, quantity, 0, price=D("1.1"))


def order_in(status: S) -> Order:
    o = order()
    o.status = status
    return o


def test_expected_table_covers_every_status() -> None:
    assert set(EXPECTED) == set(S)
    assert len(LEGAL) + len(ILLEGAL) == len(S) * len(E)


@pytest.mark.parametrize(("status", "event", "new"), LEGAL, ids=[f"{s}-{e}" for s, e, _ in LEGAL])
def test_legal_transition_moves_to_the_expected_status(status: S, event: E, new: S) -> None:
    o = order_in(status)
    assert o.apply(event) is new
    assert o.status is new


@pytest.mark.parametrize(("status", "event"), ILLEGAL, ids=[f"{s}-{e}" for s, e in ILLEGAL])
def test_illegal_transition_raises_naming_the_order_and_leaves_it_unchanged(status: S, event: E) -> None:
    o = order_in(status)
    with pytest.raises(InvalidStateTransition) as info:
        o.apply(event, reason="should not stick")
    message = str(info.value)
    assert "O-TB-test-000001" in message
    assert event.value in message and status.value in message
    assert o.status is status
    assert o.reason == ""


@pytest.mark.parametrize("terminal", [S.DENIED, S.REJECTED, S.FILLED, S.EXPIRED])
def test_terminal_statuses_admit_no_event(terminal: S) -> None:
    for event in E:
        with pytest.raises(InvalidStateTransition):
            order_in(terminal).apply(event)


def test_closed_statuses_are_not_open() -> None:
    assert {s for s in S if s.is_open} == {
        S.SUBMITTED,
        S.ACCEPTED,
        S.TRIGGERED,
        S.PENDING_UPDATE,
        S.PENDING_CANCEL,
        S.PARTIALLY_FILLED,
    }
    assert {s for s in S if s.is_closed} == {S.DENIED, S.REJECTED, S.FILLED, S.CANCELED, S.EXPIRED}


def test_reason_is_recorded_with_the_event() -> None:
    o = order()
    o.apply(E.DENIED, "TRADING_HALTED: state=halted")
    assert (o.status, o.reason) == (S.DENIED, "TRADING_HALTED: state=halted")


# ---- paths through the machine -----------------------------------------------------------------------------
def submitted_and_accepted() -> Order:
    o = order()
    o.apply(E.SUBMITTED)
    o.apply(E.ACCEPTED)
    return o


def test_fill_arriving_after_a_cancel_request_fills_the_order() -> None:
    o = submitted_and_accepted()
    o.apply(E.PENDING_CANCEL)
    assert o.apply_fill("T-1", D(100), D("1.1"))
    assert o.status is S.FILLED
    assert o.filled_qty == D(100)


def test_partial_fill_after_a_cancel_request_keeps_the_cancel_pending() -> None:
    o = submitted_and_accepted()
    o.apply(E.PENDING_CANCEL)
    o.apply_fill("T-1", D(40), D("1.1"))
    assert o.status is S.PENDING_CANCEL
    o.apply(E.CANCELED)
    assert o.status is S.CANCELED
    assert o.filled_qty == D(40)


def test_repeated_cancel_request_is_allowed() -> None:
    o = submitted_and_accepted()
    o.apply(E.PENDING_CANCEL)
    o.apply(E.PENDING_CANCEL)
    o.apply(E.CANCELED)
    o.apply(E.CANCELED)  # duplicate confirmation
    assert o.status is S.CANCELED


@pytest.mark.parametrize("working", [S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED])
def test_cancel_rejected_returns_to_the_previous_working_state(working: S) -> None:
    o = submitted_and_accepted()
    if working is S.TRIGGERED:
        o.apply(E.TRIGGERED)
    if working is S.PARTIALLY_FILLED:
        o.apply_fill("T-1", D(30), D("1.1"))
    assert o.status is working
    o.apply(E.PENDING_CANCEL)
    o.apply(E.PENDING_CANCEL)
    assert o.apply(E.CANCEL_REJECTED, "ORDER_NOT_WORKING") is working
    assert o.reason == "ORDER_NOT_WORKING"


@pytest.mark.parametrize("working", [S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED])
def test_modify_rejected_returns_to_the_previous_working_state(working: S) -> None:
    o = submitted_and_accepted()
    if working is S.TRIGGERED:
        o.apply(E.TRIGGERED)
    if working is S.PARTIALLY_FILLED:
        o.apply_fill("T-1", D(30), D("1.1"))
    o.apply(E.PENDING_UPDATE)
    assert o.apply(E.MODIFY_REJECTED) is working


def test_cancel_rejected_after_a_pending_update_then_cancel_returns_to_the_working_state_before_both() -> (
    None
):
    o = submitted_and_accepted()
    o.apply(E.TRIGGERED)
    o.apply(E.PENDING_UPDATE)
    o.apply(E.PENDING_CANCEL)
    assert o.apply(E.CANCEL_REJECTED) is S.TRIGGERED


def test_cancel_rejected_after_a_partial_fill_during_the_pending_cancel_is_partially_filled() -> None:
    o = submitted_and_accepted()
    o.apply(E.PENDING_CANCEL)
    o.apply_fill("T-1", D(40), D("1.1"))
    assert o.apply(E.CANCEL_REJECTED) is S.PARTIALLY_FILLED


@pytest.mark.parametrize("working", [S.TRIGGERED, S.PARTIALLY_FILLED])
def test_successful_update_returns_to_the_working_state_before_the_update(working: S) -> None:
    o = submitted_and_accepted()
    if working is S.TRIGGERED:
        o.apply(E.TRIGGERED)
    else:
        o.apply_fill("T-1", D(30), D("1.1"))
    o.apply(E.PENDING_UPDATE)
    assert o.apply(E.UPDATED) is working


# ---- fills -------------------------------------------------------------------------------------------------
def test_fills_accumulate_quantity_and_exact_average_price() -> None:
    o = submitted_and_accepted()
    assert o.apply_fill("T-1", D(30), D("1.10001"))
    assert o.status is S.PARTIALLY_FILLED
    assert o.apply_fill("T-2", D(70), D("1.10011"))
    assert o.status is S.FILLED
    assert (o.filled_qty, o.leaves_qty) == (D(100), D(0))
    assert o.avg_px == (D(30) * D("1.10001") + D(70) * D("1.10011")) / D(100)
    assert o.avg_px == D("1.10008")


def test_duplicate_trade_id_is_ignored() -> None:
    o = submitted_and_accepted()
    assert o.apply_fill("T-1", D(30), D("1.1"))
    assert not o.apply_fill("T-1", D(30), D("1.1"))
    assert (o.filled_qty, o.status) == (D(30), S.PARTIALLY_FILLED)


def test_fill_larger_than_the_remaining_quantity_raises_and_changes_nothing() -> None:
    o = submitted_and_accepted()
    o.apply_fill("T-1", D(60), D("1.1"))
    with pytest.raises(InvalidStateTransition, match=r"O-TB-test-000001.*exceeds the remaining 40"):
        o.apply_fill("T-2", D(41), D("1.1"))
    assert (o.filled_qty, o.status, o.trade_ids) == (D(60), S.PARTIALLY_FILLED, {"T-1"})


@pytest.mark.parametrize("qty", [D(0), D(-5)])
def test_fill_of_non_positive_quantity_raises(qty: D) -> None:
    o = submitted_and_accepted()
    with pytest.raises(InvalidStateTransition, match="must be positive"):
        o.apply_fill("T-1", qty, D("1.1"))
    assert o.filled_qty == 0


def test_fill_on_a_denied_order_raises_and_is_not_recorded() -> None:
    o = order()
    o.apply(E.DENIED)
    with pytest.raises(InvalidStateTransition, match="O-TB-test-000001"):
        o.apply_fill("T-1", D(10), D("1.1"))
    assert (o.filled_qty, o.trade_ids, o.avg_px) == (D(0), set(), None)

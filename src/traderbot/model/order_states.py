"""The order state machine: the only legal (status, event) -> status transitions.

The table admits what real venues do: a fill arriving after a cancel request (PENDING_CANCEL -> FILLED), a
repeated cancel request, a failed cancel or modify returning to the previous working state.
"""

from __future__ import annotations

from enum import StrEnum

from traderbot.model.enums import OrderStatus as S


class OrderEventKind(StrEnum):
    DENIED = "denied"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    TRIGGERED = "triggered"
    PENDING_UPDATE = "pending_update"
    UPDATED = "updated"
    MODIFY_REJECTED = "modify_rejected"
    PENDING_CANCEL = "pending_cancel"
    CANCEL_REJECTED = "cancel_rejected"
    CANCELED = "canceled"
    EXPIRED = "expired"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"


class InvalidStateTransition(Exception):
    """An event that the order's current status does not admit."""


E = OrderEventKind
_WORKING = (S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED)

TRANSITIONS: dict[tuple[S, E], S] = {
    (S.INITIALIZED, E.DENIED): S.DENIED,
    (S.INITIALIZED, E.SUBMITTED): S.SUBMITTED,
    (S.INITIALIZED, E.REJECTED): S.REJECTED,
    (S.SUBMITTED, E.ACCEPTED): S.ACCEPTED,
    (S.SUBMITTED, E.REJECTED): S.REJECTED,
    (S.SUBMITTED, E.CANCELED): S.CANCELED,
    (S.SUBMITTED, E.PENDING_CANCEL): S.PENDING_CANCEL,
    (S.SUBMITTED, E.PARTIALLY_FILLED): S.PARTIALLY_FILLED,  # acknowledgement dropped, fill arrived first
    (S.SUBMITTED, E.FILLED): S.FILLED,
    (S.SUBMITTED, E.EXPIRED): S.EXPIRED,
    (S.PENDING_UPDATE, E.UPDATED): S.ACCEPTED,
    (S.PENDING_UPDATE, E.MODIFY_REJECTED): S.ACCEPTED,
    (S.PENDING_UPDATE, E.PARTIALLY_FILLED): S.PARTIALLY_FILLED,
    (S.PENDING_UPDATE, E.FILLED): S.FILLED,
    (S.PENDING_UPDATE, E.CANCELED): S.CANCELED,
    (S.PENDING_UPDATE, E.PENDING_CANCEL): S.PENDING_CANCEL,
    (S.PENDING_UPDATE, E.EXPIRED): S.EXPIRED,
    (S.PENDING_CANCEL, E.PENDING_CANCEL): S.PENDING_CANCEL,  # repeated cancel
    (S.PENDING_CANCEL, E.CANCELED): S.CANCELED,
    (S.PENDING_CANCEL, E.CANCEL_REJECTED): S.ACCEPTED,  # refined below for partially filled orders
    (S.PENDING_CANCEL, E.PARTIALLY_FILLED): S.PENDING_CANCEL,  # fill after the cancel request
    (S.PENDING_CANCEL, E.FILLED): S.FILLED,
    (S.PENDING_CANCEL, E.EXPIRED): S.EXPIRED,
    (S.CANCELED, E.CANCELED): S.CANCELED,  # duplicate cancel confirmation
    (S.CANCELED, E.FILLED): S.FILLED,  # a venue reporting a fill that raced the cancel
    (S.CANCELED, E.PARTIALLY_FILLED): S.CANCELED,
}
for _s in _WORKING:
    TRANSITIONS.update(
        {
            (_s, E.TRIGGERED): S.TRIGGERED if _s is not S.PARTIALLY_FILLED else S.PARTIALLY_FILLED,
            (_s, E.PENDING_UPDATE): S.PENDING_UPDATE,
            (_s, E.UPDATED): _s,
            (_s, E.PENDING_CANCEL): S.PENDING_CANCEL,
            (_s, E.CANCELED): S.CANCELED,
            (_s, E.EXPIRED): S.EXPIRED,
            (_s, E.PARTIALLY_FILLED): S.PARTIALLY_FILLED,
            (_s, E.FILLED): S.FILLED,
        }
    )
TRANSITIONS[(S.ACCEPTED, E.REJECTED)] = S.REJECTED  # e.g. a triggered stop refused for margin
TRANSITIONS[(S.TRIGGERED, E.REJECTED)] = S.REJECTED


def next_status(current: S, event: E) -> S:
    """The status after `event`, or InvalidStateTransition naming both."""
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise InvalidStateTransition(
            f"event {event.value!r} is not allowed in status {current.value!r}"
        ) from None

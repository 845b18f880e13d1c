"""The parent order of an execution algorithm: what was asked, what its children achieved, and why it stopped.

A parent never reaches a venue; its children are ordinary orders (with `parent_id` set to the parent's id) that
pass the risk engine and the execution engine like any other. The parent's fill figures are the exact sums of
its children's fills: `avg_px = sum(price * qty) / sum(qty)` in Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from traderbot.core.money import ZERO
from traderbot.errors import UserError
from traderbot.model.enums import OrderSide


class AlgoConfigError(UserError):
    """An algorithm's own settings are invalid (e.g. a zero duration): it cannot be constructed."""


class AlgoStatus(StrEnum):
    WORKING = "working"  # scheduled or sending children
    FILLED = "filled"  # the whole quantity was bought or sold
    CANCELED = "canceled"  # stopped on request (the strategy, or an operator)
    FAILED = "failed"  # refused at submission, or stopped after repeated child failures
    EXPIRED = "expired"  # the time window ended with quantity left and no final sweep


class AlgoRefusal(StrEnum):
    """Why an algorithm was refused at submission. docs/execution_algorithms.md's table is generated from it."""

    INVALID_QUANTITY = "quantity is NaN, infinite, zero or negative"
    UNKNOWN_INSTRUMENT = "the instrument is not loaded in the kernel"
    QUANTITY_PRECISION = "quantity is not a whole number of lots"
    BELOW_MIN_QUANTITY = "quantity (or one slice of it) is below the instrument's minimum"
    START_IN_PAST = "the start time is earlier than the current time"
    NO_CLOCK_TIME = "no bar has closed yet, so 'now' is unknown: pass an explicit start"
    NO_VOLUME_PROFILE = "no stored bars with volume before the start to learn a volume profile from"
    PROFILE_LOOKAHEAD = "the given volume profile was learned from bars that close after now"
    NO_VOLUME_IN_WINDOW = "the volume profile expects no volume inside the algorithm's window"
    INVALID_PRICE = "the limit price is NaN, infinite, zero, negative or not a multiple of the tick size"

    @property
    def code(self) -> str:
        return self.name

    def text(self, context: str) -> str:
        """The refusal as stored on the parent: `CODE: context`."""
        return f"{self.name}: {context}"


def refusal_table_markdown() -> str:
    """The refusal-code table for the docs, generated from the enum so docs and code cannot drift."""
    rows = ["| code | meaning |", "| --- | --- |"]
    rows += [f"| `{r.name}` | {r.value} |" for r in AlgoRefusal]
    return "\n".join(rows)


class AlgoProgress(NamedTuple):
    """Published on bus topic "algos" whenever a parent changes: started, a child sent/filled/failed, done.

    `kind` is one of: refused, started, child_sent, child_filled, child_failed, filled, canceled, failed, expired.
    """

    parent_id: str
    strategy_id: str
    instrument_id: str
    ts: int
    kind: str
    status: str
    filled_qty: Decimal
    quantity: Decimal
    avg_px: Decimal | None
    child_id: str = ""
    reason: str = ""


@dataclass(slots=True)
class ParentOrder:
    """One execution algorithm's order: the request, its children's ids and their combined fills."""

    parent_id: str
    algo: str
    strategy_id: str
    instrument_id: str
    side: OrderSide
    quantity: Decimal
    ts_init: int
    start_ns: int = 0
    end_ns: int | None = None
    status: AlgoStatus = AlgoStatus.WORKING
    filled_qty: Decimal = ZERO
    filled_cost: Decimal = ZERO  # sum of price * quantity over the children's fills, exact
    child_ids: list[str] = field(default_factory=list)
    consecutive_failures: int = 0
    failures: int = 0
    reason: str = ""
    ts_done: int | None = None

    @property
    def avg_px(self) -> Decimal | None:
        """Exact average fill price over all children: sum(price * qty) / sum(qty), or None before a fill."""
        return self.filled_cost / self.filled_qty if self.filled_qty else None

    @property
    def leaves_qty(self) -> Decimal:
        return self.quantity - self.filled_qty

    @property
    def is_working(self) -> bool:
        return self.status is AlgoStatus.WORKING

    def to_dict(self) -> dict[str, object]:
        """Plain values (Decimals as strings) for a journal row, an API answer or a log line."""
        avg = self.avg_px
        return {
            "parent_id": self.parent_id,
            "algo": self.algo,
            "strategy_id": self.strategy_id,
            "instrument_id": self.instrument_id,
            "side": self.side.value,
            "quantity": str(self.quantity),
            "ts_init": self.ts_init,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "status": self.status.value,
            "filled_qty": str(self.filled_qty),
            "filled_cost": str(self.filled_cost),
            "avg_px": None if avg is None else str(avg),
            "child_ids": list(self.child_ids),
            "failures": self.failures,
            "reason": self.reason,
            "ts_done": self.ts_done,
        }

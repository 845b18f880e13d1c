"""Deterministic identifiers. A client order id is reproducible from (trader, strategy, sequence)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class ClientOrderIdGenerator:
    """Issues `O-<trader>-<strategy>-<seq>` ids, deterministic for a run.

    With `reserve` (a persistent sequence, e.g. the order journal's) numbers come in blocks reserved from
    storage, so a restarted process never reuses an id; without it they count from `next_seq`.
    """

    trader_id: str
    strategy_id: str
    next_seq: int = 1
    reserve: Callable[[str], int] | None = None  # returns the first number of a newly reserved block
    block: int = 100
    _limit: int = field(init=False, default=0)
    _prefix: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self._prefix = f"O-{self.trader_id}-{self.strategy_id}-"
        self._limit = 0 if self.reserve is not None else -1

    def generate(self) -> str:
        if self._limit >= 0 and self.next_seq >= self._limit:
            assert self.reserve is not None
            self.next_seq = self.reserve(self.strategy_id)
            self._limit = self.next_seq + self.block
        seq = self.next_seq
        self.next_seq += 1
        return f"{self._prefix}{seq:06d}"


@dataclass(slots=True)
class SequenceIdGenerator:
    """Monotonic ids with a prefix, e.g. venue order ids `V-000001` or trade ids `T-000001`."""

    prefix: str
    next_seq: int = 1

    def generate(self) -> str:
        seq = self.next_seq
        self.next_seq += 1
        return f"{self.prefix}-{seq:06d}"

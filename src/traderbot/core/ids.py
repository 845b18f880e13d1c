"""Deterministic identifiers. A client order id is reproducible from (trader, strategy, sequence)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class ClientOrderIdGenerator:
    """Issues `O-<trader>-<strategy>-<seq>` ids; `seq` resumes from a stored value after a restart."""

    trader_id: str
    strategy_id: str
    next_seq: int = 1
    _prefix: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self._prefix = f"O-{self.trader_id}-{self.strategy_id}-"

    def generate(self) -> str:
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

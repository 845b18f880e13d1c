"""Bus messages about pairs, published on topic "pairs" after the change is committed. Immutable."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from traderbot.pairs.lifecycle import PairState

TOPIC = "pairs"


@dataclass(frozen=True, slots=True)
class PairAdded:
    pair: str
    state: PairState
    timeframe: str
    strategy: str
    actor: str
    reason: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class PairRemoved:
    pair: str
    previous: PairState
    actor: str
    reason: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class PairEnabled:
    pair: str
    actor: str
    reason: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class PairDisabled:
    pair: str
    actor: str
    reason: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class PairStateChanged:
    pair: str
    previous: PairState
    state: PairState
    actor: str
    reason: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class ParamsActivated:
    """A pair's active parameters changed: a running strategy switches to `params` without a restart."""

    pair: str
    version: int
    params: Mapping[str, Any]
    ts_ns: int
    strategy: str = ""
    actor: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        # A read-only view of a private copy, so no handler can change what another one receives.
        object.__setattr__(self, "params", MappingProxyType(copy.deepcopy(dict(self.params))))


PairMessage = PairAdded | PairRemoved | PairEnabled | PairDisabled | PairStateChanged | ParamsActivated

__all__ = [
    "TOPIC",
    "PairAdded",
    "PairDisabled",
    "PairEnabled",
    "PairMessage",
    "PairRemoved",
    "PairStateChanged",
    "ParamsActivated",
]

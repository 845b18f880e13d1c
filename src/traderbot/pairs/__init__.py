"""The pair registry: which pairs are traded, where each is in its lifecycle (untrained, training, ready,
trading, failed, paused), its parameter versions, and the audit trail of every change."""

from traderbot.pairs.events import (
    TOPIC,
    PairAdded,
    PairDisabled,
    PairEnabled,
    PairRemoved,
    PairStateChanged,
    ParamsActivated,
)
from traderbot.pairs.lifecycle import (
    TRANSITIONS,
    EventKind,
    PairEvent,
    PairRecord,
    PairState,
    TransitionRefused,
    check_transition,
)
from traderbot.pairs.params import ParamsVersion
from traderbot.pairs.registry import PairRegistry, normalize_pair

__all__ = [
    "TOPIC",
    "TRANSITIONS",
    "EventKind",
    "PairAdded",
    "PairDisabled",
    "PairEnabled",
    "PairEvent",
    "PairRecord",
    "PairRegistry",
    "PairRemoved",
    "PairState",
    "PairStateChanged",
    "ParamsActivated",
    "ParamsVersion",
    "TransitionRefused",
    "check_transition",
    "normalize_pair",
]

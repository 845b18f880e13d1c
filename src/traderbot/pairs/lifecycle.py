"""The pair lifecycle: states, the whitelisted transition table, the guard on entering `trading`, and the
records the registry hands out (a pair as last stored, one audit-trail entry)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from traderbot.errors import UserError
from traderbot.pairs.params import from_json


class PairState(StrEnum):
    """Where a pair is in its life: from untrained, through training, to trading (paused = locked by risk)."""

    UNTRAINED = "untrained"
    TRAINING = "training"
    READY = "ready"
    TRADING = "trading"
    FAILED = "failed"
    PAUSED = "paused"


class EventKind(StrEnum):
    """What an audit-trail entry records."""

    ADDED = "added"
    REMOVED = "removed"
    ENABLED = "enabled"
    DISABLED = "disabled"
    TRANSITION = "transition"
    PARAMS_SAVED = "params_saved"
    PARAMS_ACTIVATED = "params_activated"


S = PairState

# The only legal moves. training->untrained is a canceled first training; training->ready also covers a
# canceled retrain of a pair that was ready (it keeps its earlier parameters).
TRANSITIONS: dict[PairState, frozenset[PairState]] = {
    S.UNTRAINED: frozenset({S.TRAINING}),
    S.TRAINING: frozenset({S.READY, S.FAILED, S.UNTRAINED}),
    S.FAILED: frozenset({S.TRAINING, S.UNTRAINED}),
    S.READY: frozenset({S.TRAINING, S.TRADING, S.PAUSED}),
    S.TRADING: frozenset({S.READY, S.PAUSED}),
    S.PAUSED: frozenset({S.READY}),
}


class TransitionRefused(UserError):
    """A pair was asked to move to a state the lifecycle does not allow from where it is, or a guard failed."""


@dataclass(frozen=True, slots=True)
class PairRecord:
    """A pair as last stored. `row_version` grows with every change (the optimistic-concurrency check)."""

    pair: str
    state: PairState
    enabled: bool
    timeframe: str
    strategy: str
    active_version: int | None
    updated_ns: int
    row_version: int

    @staticmethod
    def from_row(r: Mapping[str, Any]) -> PairRecord:
        return PairRecord(r["pair"], PairState(r["state"]), bool(r["enabled"]), r["timeframe"], r["strategy"],
                          r["active_version"], r["updated_ns"], r["row_version"])  # fmt: skip


@dataclass(frozen=True, slots=True)
class PairEvent:
    """One audit-trail entry: who changed what, when, why, from which state to which."""

    id: int
    pair: str
    ts_ns: int
    actor: str
    reason: str
    kind: EventKind
    previous: PairState | None
    state: PairState | None
    details: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def from_row(r: Mapping[str, Any]) -> PairEvent:
        prev, state = r["previous"], r["state"]
        return PairEvent(r["id"], r["pair"], r["ts"], r["actor"], r["reason"], EventKind(r["kind"]),
                         None if prev is None else PairState(prev), None if state is None else PairState(state),
                         from_json(r["details"]))  # fmt: skip


def parse_state(value: PairState | str) -> PairState:
    """A state from its name; a UserError lists the valid ones."""
    try:
        return PairState(value)
    except ValueError:
        known = ", ".join(s.value for s in PairState)
        raise UserError(f"pair state {value!r} is not valid: use one of {known}") from None


def is_legal(previous: PairState, to: PairState) -> bool:
    return to in TRANSITIONS[previous]


def check_transition(pair: str, previous: PairState, to: PairState) -> None:
    """Raise TransitionRefused (one sentence with the fix) unless previous -> to is in the table."""
    if is_legal(previous, to):
        return
    raise TransitionRefused(
        f"{pair} cannot go from {previous.value} to {to.value}: {_hint(pair, previous, to)}"
    )


def _hint(pair: str, previous: PairState, to: PairState) -> str:
    """The fix for an illegal move, as specific as the two states allow."""
    if previous == to:
        return f"it is already {to.value}"
    if previous == S.TRAINING:
        return "wait for its training to finish or cancel the training job"
    if previous == S.PAUSED:
        return f"a risk lock holds it; clear the lock first (traderbot risk unlock pair:{pair})"
    if to in (S.TRADING, S.READY) and previous in (S.UNTRAINED, S.FAILED):
        return f"train it first (traderbot train {pair})"
    if to == S.PAUSED:
        return "only a ready or trading pair can be paused by a risk lock"
    if to == S.FAILED:
        return "only a training pair can fail"
    if previous == S.TRADING:
        return f"stop it first (traderbot pairs stop {pair})"
    allowed = ", ".join(sorted(s.value for s in TRANSITIONS[previous]))
    return f"from {previous.value} it can only go to {allowed}"


def trading_refusals(
    pair: str,
    *,
    enabled: bool,
    active_version: int | None,
    cache_problem: str | None,
    lock_problem: str | None,
) -> list[str]:
    """Every unmet condition for entering `trading`, each with its fix; empty when all are met."""
    unmet: list[str] = []
    if not enabled:
        unmet.append(f"it is disabled (traderbot pairs enable {pair})")
    if active_version is None:
        unmet.append(
            f"it has no active parameter version (train it, or traderbot pairs activate {pair} VERSION)"
        )
    if cache_problem:
        unmet.append(f"its market-data cache is not valid ({cache_problem})")
    if lock_problem:
        unmet.append(f"a risk lock holds it ({lock_problem})")
    return unmet


def check_can_trade(
    pair: str,
    *,
    enabled: bool,
    active_version: int | None,
    cache_problem: str | None,
    lock_problem: str | None,
) -> None:
    """Raise TransitionRefused naming every unmet condition for entering `trading`."""
    unmet = trading_refusals(
        pair,
        enabled=enabled,
        active_version=active_version,
        cache_problem=cache_problem,
        lock_problem=lock_problem,
    )
    if unmet:
        raise TransitionRefused(f"{pair} cannot start trading: " + "; ".join(unmet))


def transition_table_markdown() -> str:
    """The legal moves as a Markdown table (docs/pairs.md embeds it; a test keeps the two equal)."""
    lines = ["| from | may go to |", "|---|---|"]
    for state in PairState:
        targets = ", ".join(f"`{t.value}`" for t in PairState if t in TRANSITIONS[state])
        lines.append(f"| `{state.value}` | {targets} |")
    return "\n".join(lines)

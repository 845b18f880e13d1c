"""The pair lifecycle table: every legal move passes, every other one of the 36 is refused with one sentence."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from traderbot.errors import UserError
from traderbot.pairs.lifecycle import (
    TRANSITIONS,
    PairState,
    TransitionRefused,
    check_can_trade,
    check_transition,
    parse_state,
    trading_refusals,
    transition_table_markdown,
)

S = PairState
# Written out independently of the code's table, from the issue.
LEGAL = {
    (S.UNTRAINED, S.TRAINING),
    (S.TRAINING, S.READY),
    (S.TRAINING, S.FAILED),
    (S.TRAINING, S.UNTRAINED),
    (S.FAILED, S.TRAINING),
    (S.FAILED, S.UNTRAINED),
    (S.READY, S.TRAINING),
    (S.READY, S.TRADING),
    (S.READY, S.PAUSED),
    (S.TRADING, S.READY),
    (S.TRADING, S.PAUSED),
    (S.PAUSED, S.READY),
}
ALL_MOVES = list(itertools.product(PairState, PairState))


def test_there_are_six_states_and_thirty_six_moves() -> None:
    assert [s.value for s in PairState] == ["untrained", "training", "ready", "trading", "failed", "paused"]
    assert len(ALL_MOVES) == 36


def test_the_code_table_is_exactly_the_specified_table() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == LEGAL


@pytest.mark.parametrize(("previous", "to"), ALL_MOVES, ids=[f"{a.value}->{b.value}" for a, b in ALL_MOVES])
def test_each_move_is_allowed_only_when_in_the_table(previous: PairState, to: PairState) -> None:
    if (previous, to) in LEGAL:
        check_transition("EURUSD", previous, to)
        return
    with pytest.raises(TransitionRefused) as info:
        check_transition("EURUSD", previous, to)
    msg = str(info.value)
    assert msg.startswith(f"EURUSD cannot go from {previous.value} to {to.value}: ")
    assert "\n" not in msg and len(msg.split(": ", 1)[1]) > 5  # one sentence, with a fix after the colon


def test_trading_an_untrained_pair_says_train_it_first() -> None:
    with pytest.raises(TransitionRefused, match=r"^EURUSD cannot go from untrained to trading: train it first "
                                                 r"\(traderbot train EURUSD\)$"):  # fmt: skip
        check_transition("EURUSD", S.UNTRAINED, S.TRADING)


def test_a_paused_pair_names_the_risk_unlock_command() -> None:
    with pytest.raises(TransitionRefused, match=r"traderbot risk unlock pair:GBPUSD"):
        check_transition("GBPUSD", S.PAUSED, S.TRADING)


def test_a_refusal_is_a_user_error_so_the_cli_prints_one_line() -> None:
    assert issubclass(TransitionRefused, UserError)
    assert TransitionRefused("x").exit_code == 2


def test_the_trading_guard_names_every_unmet_condition() -> None:
    unmet = trading_refusals("EURUSD", enabled=False, active_version=None, cache_problem="gap at 12:00",
                             lock_problem="manual on pair:EURUSD")  # fmt: skip
    assert len(unmet) == 4
    with pytest.raises(TransitionRefused) as info:
        check_can_trade("EURUSD", enabled=False, active_version=None, cache_problem="gap at 12:00",
                        lock_problem="manual on pair:EURUSD")  # fmt: skip
    msg = str(info.value)
    assert msg.startswith("EURUSD cannot start trading: ")
    for part in ("disabled", "traderbot pairs enable EURUSD", "no active parameter version", "gap at 12:00",
                 "manual on pair:EURUSD"):  # fmt: skip
        assert part in msg


@pytest.mark.parametrize(
    ("enabled", "version", "cache", "lock", "expected"),
    [
        (True, 1, None, None, []),
        (False, 1, None, None, ["disabled"]),
        (True, None, None, None, ["no active parameter version"]),
        (True, 2, "stale", None, ["cache is not valid (stale)"]),
        (True, 2, None, "halted", ["risk lock holds it (halted)"]),
    ],
)
def test_the_trading_guard_reports_only_what_is_unmet(
    enabled: bool, version: int | None, cache: str | None, lock: str | None, expected: list[str]
) -> None:
    unmet = trading_refusals("EURUSD", enabled=enabled, active_version=version, cache_problem=cache,
                             lock_problem=lock)  # fmt: skip
    assert len(unmet) == len(expected)
    for text, want in zip(unmet, expected, strict=True):
        assert want in text
    if not expected:
        check_can_trade(
            "EURUSD", enabled=enabled, active_version=version, cache_problem=cache, lock_problem=lock
        )


def test_a_state_name_is_parsed_or_refused_with_the_valid_names() -> None:
    assert parse_state("ready") is S.READY
    with pytest.raises(UserError, match="use one of untrained, training, ready, trading, failed, paused"):
        parse_state("running")


def test_the_transition_table_in_the_docs_is_generated_from_the_code() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "pairs.md"
    assert transition_table_markdown() in docs.read_text()

"""The pair registry on a real SQLite file and on PostgreSQL: persisted lifecycle, audit trail, parameter
versions, optimistic concurrency between processes, and bus messages after the commit.

PostgreSQL runs in a fresh database on 127.0.0.1:5432 (`any_db_url` in tests/conftest.py); when it is unreachable
the test skips loudly, or fails in CI.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from traderbot.core.bus import MessageBus
from traderbot.errors import UserError
from traderbot.pairs import (
    EventKind,
    PairAdded,
    PairDisabled,
    PairEnabled,
    PairRegistry,
    PairRemoved,
    PairState,
    PairStateChanged,
    ParamsActivated,
    TransitionRefused,
)
from traderbot.store.db import open_engine

S = PairState
WHO = {"actor": "alice", "reason": "test"}


@pytest.fixture
def db_url(any_db_url: str) -> str:
    """SQLite and a fresh PostgreSQL database (tests/conftest.py; CI fails if the server is missing)."""
    return any_db_url


@pytest.fixture
def engines(db_url: str) -> Iterator[Callable[[], Engine]]:
    """A new engine (like a new process) on the test database each call; all disposed afterwards."""
    made: list[Engine] = []

    def make() -> Engine:
        made.append(open_engine(db_url))
        return made[-1]

    yield make
    for e in made:
        e.dispose()


def _clock() -> Callable[[], int]:
    ticks = itertools.count(1_700_000_000_000_000_000, 1_000)
    return lambda: next(ticks)


def _to_ready(reg: PairRegistry, pair: str = "EURUSD", oos: float = 0.61) -> int:
    """Add, train, save and activate parameters: the pair ends ready to trade. Returns the version."""
    if reg.find(pair) is None:
        reg.add(pair, **WHO)
    reg.transition(pair, S.TRAINING, **WHO)
    version = reg.save_params(pair, "qfh", {"window": 20}, {"oos_quality": oos}, source="job-1")
    reg.activate_params(pair, version, **WHO)
    reg.transition(pair, S.READY, **WHO)
    return version


def test_state_versions_and_history_survive_a_restart(engines: Callable[[], Engine]) -> None:
    reg = PairRegistry(engines(), now_ns=_clock())
    reg.add("eur/usd", actor="alice", reason="new pair", timeframe="15m")
    v1 = _to_ready(reg)
    v2 = reg.save_params("EURUSD", "qfh", {"window": 30}, {"oos_quality": 0.7}, source="job-2")
    reg.activate_params("EURUSD", v2, actor="bob", reason="better OOS")
    reg.transition("EURUSD", S.TRADING, actor="bob", reason="go live")

    again = PairRegistry(engines())  # a fresh process on the same database
    rec = again.get("EURUSD")
    assert (rec.state, rec.enabled, rec.timeframe, rec.active_version) == (S.TRADING, True, "15m", 2)
    assert rec == reg.get("EURUSD")
    assert [v.version for v in again.params_versions("EURUSD")] == [v1, v2] == [1, 2]
    active = again.active_params("EURUSD")
    assert active is not None and active.params == {"window": 30} and active.metrics == {"oos_quality": 0.7}
    hist = again.history("EURUSD")
    assert [h.kind for h in hist] == [EventKind.ADDED, EventKind.TRANSITION, EventKind.PARAMS_SAVED,
                                      EventKind.PARAMS_ACTIVATED, EventKind.TRANSITION, EventKind.PARAMS_SAVED,
                                      EventKind.PARAMS_ACTIVATED, EventKind.TRANSITION]  # fmt: skip
    last = hist[-1]
    assert (last.previous, last.state, last.actor, last.reason) == (S.READY, S.TRADING, "bob", "go live")
    assert [h.ts_ns for h in hist] == sorted(h.ts_ns for h in hist) and hist[
        0
    ].ts_ns == 1_700_000_000_000_000_000
    assert hist[6].details == {"version": 2, "previous_version": 1, "strategy": "qfh"}
    assert again.history("EURUSD", limit=2) == hist[-2:]


def test_add_normalises_the_id_and_refuses_unknown_instruments_and_duplicates(
    engines: Callable[[], Engine],
) -> None:
    reg = PairRegistry(engines())
    rec = reg.add(" eur_usd ", **WHO)
    assert (rec.pair, rec.state, rec.enabled, rec.strategy, rec.active_version) == (
        "EURUSD", S.UNTRAINED, True, "qfh", None)  # fmt: skip
    with pytest.raises(
        UserError, match=r"pair EURUSD is already registered \(untrained\): see traderbot pairs"
    ):
        reg.add("EUR/USD", **WHO)
    with pytest.raises(
        UserError, match=r"cannot add pair NOPE: unknown instrument 'NOPE': known instruments"
    ):
        reg.add("nope", **WHO)
    with pytest.raises(UserError, match=r"cannot add pair GBPUSD: unknown timeframe '7q'"):
        reg.add("GBPUSD", timeframe="7q", **WHO)
    with pytest.raises(UserError, match="needs who"):
        reg.add("GBPUSD", actor="alice", reason=" ")
    with pytest.raises(UserError, match=r"^unknown pair GBPUSD: add it with traderbot pairs add GBPUSD$"):
        reg.get("gbp/usd")
    assert [r.pair for r in reg.list()] == ["EURUSD"] and len(reg.history("EURUSD")) == 1


def test_entering_trading_names_every_unmet_guard(engines: Callable[[], Engine]) -> None:
    problems: dict[str, str | None] = {"cache": "bars missing since 12:00", "lock": "manual on pair:EURUSD"}
    reg = PairRegistry(
        engines(), cache_valid=lambda p: problems["cache"], risk_lock=lambda p: problems["lock"]
    )
    reg.add("EURUSD", **WHO)
    reg.transition("EURUSD", S.TRAINING, **WHO)
    reg.transition("EURUSD", S.READY, actor="trainer", reason="canceled retrain")
    reg.disable("EURUSD", **WHO)
    with pytest.raises(TransitionRefused) as info:
        reg.transition("EURUSD", S.TRADING, **WHO)
    msg = str(info.value)
    for part in (
        "disabled",
        "no active parameter version",
        "bars missing since 12:00",
        "manual on pair:EURUSD",
    ):
        assert part in msg
    assert reg.get("EURUSD").state == S.READY
    reg.enable("EURUSD", **WHO)
    reg.activate_params("EURUSD", reg.save_params("EURUSD", "qfh", {}, {}, source="manual"), **WHO)
    problems["cache"] = None
    with pytest.raises(
        TransitionRefused, match=r"cannot start trading: a risk lock holds it \(manual on pair"
    ):
        reg.transition("EURUSD", S.TRADING, **WHO)
    problems["lock"] = None
    assert reg.transition("EURUSD", "trading", **WHO).state == S.TRADING


def test_disable_stops_a_trading_pair_and_automatic_moves_are_audited(engines: Callable[[], Engine]) -> None:
    reg = PairRegistry(engines())
    _to_ready(reg)
    reg.transition("EURUSD", S.TRADING, **WHO)
    rec = reg.disable("EURUSD", actor="carol", reason="news")
    assert (rec.state, rec.enabled) == (S.READY, False)
    h = reg.history("EURUSD")[-1]
    assert (h.kind, h.previous, h.state, h.actor, h.reason) == (EventKind.DISABLED, S.TRADING, S.READY, "carol",
                                                                "news")  # fmt: skip
    assert reg.disable("EURUSD", **WHO).row_version == rec.row_version  # already disabled: nothing written
    reg.enable("EURUSD", **WHO)
    reg.transition("EURUSD", S.TRADING, **WHO)
    reg.mark_cache_invalid("EURUSD", "gap in bars")
    h = reg.history("EURUSD")[-1]
    assert (h.previous, h.state, h.actor, h.reason) == (S.TRADING, S.READY, "cache", "gap in bars")
    reg.mark_cache_invalid("EURUSD", "again")  # not trading: nothing to do
    reg.mark_locked("EURUSD", "daily loss limit")
    assert reg.get("EURUSD").state == S.PAUSED and reg.in_state(S.PAUSED)[0].pair == "EURUSD"
    with pytest.raises(TransitionRefused, match="risk unlock pair:EURUSD"):
        reg.transition("EURUSD", S.TRADING, **WHO)
    reg.mark_unlocked("EURUSD")
    assert reg.get("EURUSD").state == S.READY
    assert [h.reason for h in reg.history("EURUSD")[-2:]] == ["daily loss limit", "risk lock cleared"]


def test_remove_is_refused_while_training_or_trading_and_keeps_history(engines: Callable[[], Engine]) -> None:
    reg = PairRegistry(engines())
    reg.add("EURUSD", **WHO)
    reg.transition("EURUSD", S.TRAINING, **WHO)
    with pytest.raises(TransitionRefused, match="EURUSD cannot be removed while training: stop it first"):
        reg.remove("EURUSD", **WHO)
    v = reg.save_params("EURUSD", "qfh", {"a": 1}, {}, source="job")
    reg.activate_params("EURUSD", v, **WHO)
    reg.transition("EURUSD", S.READY, **WHO)
    reg.transition("EURUSD", S.TRADING, **WHO)
    with pytest.raises(
        TransitionRefused, match=r"while trading: stop it first \(traderbot pairs stop EURUSD\)"
    ):
        reg.remove("EURUSD", **WHO)
    reg.transition("EURUSD", S.READY, **WHO)
    reg.remove("EURUSD", actor="dave", reason="delisted")
    assert reg.find("EURUSD") is None and reg.list() == []
    h = reg.history("EURUSD")
    assert (h[-1].kind, h[-1].previous, h[-1].state, h[-1].actor) == (
        EventKind.REMOVED,
        S.READY,
        None,
        "dave",
    )
    assert [p.version for p in reg.params_versions("EURUSD")] == [1]
    again = reg.add("EURUSD", **WHO)  # a fresh start; old versions are history, numbering continues
    assert again.active_version is None and again.state == S.UNTRAINED
    assert reg.save_params("EURUSD", "qfh", {"a": 2}, {}, source="job") == 2


def test_parameter_versions_count_per_pair_and_activation_is_checked(engines: Callable[[], Engine]) -> None:
    reg = PairRegistry(engines())
    reg.add("EURUSD", **WHO)
    reg.add("GBPUSD", **WHO)
    assert [reg.save_params("EURUSD", "qfh", {"w": i}, {}, source="s") for i in range(3)] == [1, 2, 3]
    assert reg.save_params("GBPUSD", "qfh", {"w": 9}, {}, source="s") == 1
    assert reg.active_params("EURUSD") is None
    with pytest.raises(UserError, match=r"EURUSD has no parameter version 4: saved versions are 1\.\.3"):
        reg.activate_params("EURUSD", 4, **WHO)
    with pytest.raises(UserError, match="params cannot be stored as JSON"):
        reg.save_params("EURUSD", "qfh", {"w": object()}, {}, source="s")
    reg.activate_params("EURUSD", 2, **WHO)
    active = reg.active_params("EURUSD")
    assert active is not None and (active.version, active.params, active.source) == (2, {"w": 1}, "s")
    assert [v.version for v in reg.params_versions("EURUSD")] == [1, 2, 3]
    with pytest.raises(UserError, match="unknown pair AUDUSD"):
        reg.save_params("AUDUSD", "qfh", {}, {}, source="s")


def test_messages_are_published_after_the_commit_with_their_fields(
    engines: Callable[[], Engine], db_url: str
) -> None:
    bus = MessageBus()
    got: list[object] = []
    seen_in_db: list[PairState | None] = []
    observer = PairRegistry(engines())

    def handler(msg: object) -> None:
        got.append(msg)
        rec = observer.find("EURUSD")  # another connection: only sees committed data
        seen_in_db.append(None if rec is None else rec.state)

    bus.subscribe("pairs", handler)
    reg = PairRegistry(engines(), bus=bus, now_ns=_clock())
    reg.add("EURUSD", actor="a", reason="r1")
    reg.transition("EURUSD", S.TRAINING, actor="a", reason="r2")
    v = reg.save_params("EURUSD", "qfh", {"w": 5}, {"oos_quality": 0.5}, source="job")
    reg.activate_params("EURUSD", v, actor="b", reason="r3")
    reg.transition("EURUSD", S.READY, actor="b", reason="r4")
    reg.disable("EURUSD", actor="c", reason="r5")
    reg.enable("EURUSD", actor="c", reason="r6")
    reg.remove("EURUSD", actor="c", reason="r7")
    t = [h.ts_ns for h in reg.history("EURUSD", limit=100)]
    added, to_training, activated, to_ready, disabled, enabled, removed = got
    assert added == PairAdded("EURUSD", S.UNTRAINED, "1m", "qfh", "a", "r1", t[0])
    assert to_training == PairStateChanged("EURUSD", S.UNTRAINED, S.TRAINING, "a", "r2", t[1])
    assert isinstance(activated, ParamsActivated)
    assert (activated.pair, activated.version, dict(activated.params), activated.ts_ns, activated.actor) == (
        "EURUSD", 1, {"w": 5}, t[3], "b")  # fmt: skip
    assert to_ready == PairStateChanged("EURUSD", S.TRAINING, S.READY, "b", "r4", t[4])
    assert disabled == PairDisabled("EURUSD", "c", "r5", t[5])
    assert enabled == PairEnabled("EURUSD", "c", "r6", t[6])
    assert removed == PairRemoved("EURUSD", S.READY, "c", "r7", t[7])
    assert seen_in_db == [S.UNTRAINED, S.TRAINING, S.TRAINING, S.READY, S.READY, S.READY, None]
    with pytest.raises(dataclasses.FrozenInstanceError):
        to_ready.state = S.TRADING  # type: ignore[misc]
    with pytest.raises(TypeError):
        activated.params["w"] = 6  # type: ignore[index]


def test_a_failing_handler_does_not_undo_or_hide_a_committed_change(engines: Callable[[], Engine]) -> None:
    bus = MessageBus()

    def broken(msg: object) -> None:
        raise RuntimeError("handler bug")

    bus.subscribe("pairs", broken)
    reg = PairRegistry(engines(), bus=bus)
    assert reg.add("EURUSD", **WHO).state == S.UNTRAINED
    assert PairRegistry(engines()).get("EURUSD").state == S.UNTRAINED


def test_a_conflicting_change_is_revalidated_on_the_fresh_state(engines: Callable[[], Engine]) -> None:
    """Another process pauses the pair while this one checks its guards: the start is refused, not applied."""
    other = PairRegistry(engines())

    def lock_meanwhile(pair: str) -> None:
        other.mark_locked(pair, "breaker tripped")

    reg = PairRegistry(engines(), cache_valid=lambda p: lock_meanwhile(p))
    _to_ready(reg)
    with pytest.raises(TransitionRefused, match=r"cannot go from paused to trading.*another process changed"):
        reg.transition("EURUSD", S.TRADING, **WHO)
    assert reg.get("EURUSD").state == S.PAUSED
    assert [h.state for h in reg.history("EURUSD")][-1] == S.PAUSED


def test_a_conflict_that_still_validates_is_applied_without_losing_the_other_change(
    engines: Callable[[], Engine],
) -> None:
    other = PairRegistry(engines())
    saved: list[int] = []

    def save_meanwhile(pair: str) -> None:
        if not saved:
            saved.append(other.save_params(pair, "qfh", {"w": 99}, {}, source="other"))

    reg = PairRegistry(engines(), cache_valid=lambda p: save_meanwhile(p))
    _to_ready(reg)
    assert reg.transition("EURUSD", S.TRADING, **WHO).state == S.TRADING
    assert saved == [2] and [v.version for v in reg.params_versions("EURUSD")] == [1, 2]
    assert reg.get("EURUSD").row_version == other.get("EURUSD").row_version


def test_eight_processes_racing_training_to_ready_exactly_one_wins(engines: Callable[[], Engine]) -> None:
    setup = PairRegistry(engines())
    setup.add("EURUSD", **WHO)
    setup.transition("EURUSD", S.TRAINING, **WHO)
    racers = [PairRegistry(engines()) for _ in range(8)]  # each its own engine, like separate processes
    start = threading.Barrier(len(racers))
    wins: list[int] = []
    refusals: list[str] = []
    errors: list[BaseException] = []

    def race(i: int) -> None:
        start.wait()
        try:
            racers[i].transition("EURUSD", S.READY, actor=f"worker-{i}", reason="training finished")
            wins.append(i)
        except TransitionRefused as exc:
            refusals.append(str(exc))
        except BaseException as exc:  # anything else (e.g. database locked) fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(racers))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert errors == [] and len(wins) == 1 and len(refusals) == 7
    assert all("cannot go from ready to ready: it is already ready" in r for r in refusals)
    changes = [h for h in setup.history("EURUSD") if (h.previous, h.state) == (S.TRAINING, S.READY)]
    assert len(changes) == 1 and changes[0].actor == f"worker-{wins[0]}"
    assert setup.get("EURUSD").state == S.READY


def test_one_registry_is_safe_to_share_between_threads(engines: Callable[[], Engine]) -> None:
    reg = PairRegistry(engines())
    reg.add("EURUSD", **WHO)
    versions: list[int] = []
    lock = threading.Lock()

    def save() -> None:
        for _ in range(5):
            v = reg.save_params("EURUSD", "qfh", {}, {}, source="t")
            with lock:
                versions.append(v)

    threads = [threading.Thread(target=save) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert sorted(versions) == list(range(1, 21))
    assert reg.get("EURUSD").row_version == 21

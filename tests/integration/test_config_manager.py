"""ConfigManager on a real SQLite file: start, reload (apply, invalid, roll back, restart-only), history,
rollback to a stored version, and the file watcher applying a saved change."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from traderbot.config.manager import ConfigManager, ReloadResult
from traderbot.config.watch import watch
from traderbot.errors import UserError
from traderbot.store.db import open_engine

BASE = """
[service]
port = 8080
[[pairs]]
id = "EURUSD"
params = { fast = 20, slow = 80 }
[risk.limits]
max_order_notional = 2000000
"""


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000_000_000_000

    def __call__(self) -> int:
        self.t += 1_000_000_000
        return self.t


def _manager(tmp_path: Path, text: str = BASE) -> ConfigManager:
    path = tmp_path / "traderbot.toml"
    path.write_text(text)
    engine = open_engine(f"sqlite:///{tmp_path / 'tb.db'}")
    return ConfigManager(engine, path, author_default="alice", now_ns=Clock(), env={})


def _recorder(calls: list[tuple[str, Any, Any]], section: str, fail: bool = False) -> Any:
    def apply(old: Any, new: Any) -> None:
        calls.append((section, old, new))
        if fail:
            raise RuntimeError("venue refused the new limits")

    return apply


def test_start_stores_the_file_as_a_version_and_calls_no_applier(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    calls: list[tuple[str, Any, Any]] = []
    m.register("pairs", _recorder(calls, "pairs"))
    cfg = m.start()
    assert m.current is cfg and cfg.risk.limits.max_order_notional == 2000000 and calls == []
    (v,) = m.history(10)
    assert (v.version, v.author, v.outcome, v.applied) == (1, "alice", "applied (start)", True)
    assert "max_order_notional = 2000000" in v.text and len(v.sha256) == 64
    assert m.data_dir == tmp_path / "traderbot_data"
    assert m.database_url == f"sqlite:///{tmp_path / 'traderbot_data' / 'traderbot.db'}"


def test_reload_applies_only_the_changed_sections_with_old_and_new(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    calls: list[tuple[str, Any, Any]] = []
    for section in ("service", "pairs", "risk", "shutdown"):
        m.register(section, _recorder(calls, section))
    old = m.start()
    m.path.write_text(BASE.replace("2000000", "1000000") + '[[pairs]]\nid = "GBPUSD"\n')
    r = m.reload(author="bob")
    assert r.outcome == "applied" and r.applied and r.sections == ("risk", "pairs")
    assert [c[0] for c in calls] == ["risk", "pairs"]  # risk is applied before pairs
    assert calls[0][1] is old.risk and calls[0][2].limits.max_order_notional == 1000000
    assert [p.id for p in calls[1][2]] == ["EURUSD", "GBPUSD"]
    assert m.current is r.config and m.current.risk.limits.max_order_notional == 1000000
    assert r.diff == ["risk.limits.max_order_notional: 2000000 -> 1000000", "pairs: + GBPUSD 15m sma_cross"]
    v = m.history(1)[0]
    assert (v.version, v.author, v.outcome, v.diff) == (2, "bob", "applied", r.diff)


def test_an_unchanged_file_stores_nothing(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    m.start()
    m.path.write_text(BASE + "\n# reformatted, same settings\n")
    r = m.reload()
    assert (r.outcome, r.applied, r.version) == ("unchanged", False, None)
    assert len(m.history(10)) == 1


def test_an_invalid_file_keeps_the_current_config_and_records_why(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    calls: list[tuple[str, Any, Any]] = []
    m.register("pairs", _recorder(calls, "pairs"))
    before = m.start()
    m.path.write_text(BASE.replace('id = "EURUSD"', 'id = "EURUSD"\ntimeframe = "7q"'))
    r = m.reload()
    assert not r.applied and m.current is before and calls == []
    assert (
        r.outcome.startswith("invalid: ")
        and 'line 6: pairs[0].timeframe = "7q" is not a timeframe' in r.outcome
    )
    v = m.history(1)[0]
    assert v.outcome == r.outcome and not v.applied and 'timeframe = "7q"' in v.text
    m.path.unlink()
    assert "not found" in m.reload().outcome and m.current is before


def test_an_applier_failure_rolls_back_the_sections_already_applied(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    calls: list[tuple[str, Any, Any]] = []
    m.register("service", _recorder(calls, "service"))
    m.register("risk", _recorder(calls, "risk"))
    m.register("pairs", _recorder(calls, "pairs", fail=True))
    m.register("shutdown", _recorder(calls, "shutdown"))
    before = m.start()
    new_text = BASE.replace("8080", "9090").replace("2000000", "1000000").replace("fast = 20", "fast = 30")
    m.path.write_text(new_text + "[shutdown]\nflatten = true\n")
    r = m.reload(author="bob")
    assert not r.applied and m.current is before
    assert r.outcome == "rolled back: pairs: RuntimeError: venue refused the new limits"
    assert [c[0] for c in calls] == ["service", "risk", "pairs", "risk", "service"]  # shutdown never reached
    undo_risk, undo_service = calls[3], calls[4]
    assert undo_risk[1].limits.max_order_notional == 1000000 and undo_risk[2] is before.risk
    assert undo_service[1].port == 9090 and undo_service[2] is before.service
    v = m.history(1)[0]
    assert v.outcome == r.outcome and not v.applied and "service.port: 8080 -> 9090" in v.diff


def test_a_restart_only_field_refuses_the_whole_reload(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    calls: list[tuple[str, Any, Any]] = []
    m.register("service", _recorder(calls, "service"))
    m.register("risk", _recorder(calls, "risk"))
    before = m.start()
    m.path.write_text(BASE.replace("port = 8080", 'port = 8080\ntrader_id = "T2"').replace("2000000", "5"))
    r = m.reload()
    assert r.outcome == "refused: service.trader_id needs a restart (nothing applied)"
    assert not r.applied and calls == [] and m.current is before
    assert m.history(1)[0].outcome == r.outcome


def test_rollback_writes_the_version_back_keeps_a_backup_and_reapplies(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    calls: list[tuple[str, Any, Any]] = []
    m.register("risk", _recorder(calls, "risk"))
    m.start()
    second = BASE.replace("2000000", "1000000")
    m.path.write_text(second)
    assert m.reload().applied
    r = m.rollback(1, author="carol")
    assert r.applied and r.outcome == "applied (rollback to version 1)"
    assert r.diff == ["risk.limits.max_order_notional: 1000000 -> 2000000"]
    assert m.path.read_text() == BASE and (tmp_path / "traderbot.toml.bak").read_text() == second
    assert (
        m.current.risk.limits.max_order_notional == 2000000
        and calls[-1][2].limits.max_order_notional == 2000000
    )
    v = m.history(1)[0]
    assert (v.version, v.author, v.outcome) == (3, "carol", r.outcome)
    assert [h.version for h in m.history(2)] == [3, 2]
    assert not list(tmp_path.glob(".traderbot.toml.*.tmp"))
    with pytest.raises(UserError, match="no config version 99"):
        m.rollback(99)


def test_a_version_with_masked_secrets_is_not_written_back(tmp_path: Path) -> None:
    m = _manager(tmp_path, BASE + '[training]\nray_address = "ray://u:p4ss@head:10001"\n')
    m.start()
    assert "p4ss" not in m.history(1)[0].text
    with pytest.raises(UserError, match="held secrets"):
        m.rollback(1)


def test_diff_file_previews_without_applying(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    m.start()
    m.path.write_text(BASE.replace("8080", "8081"))
    assert m.diff_file() == ["service.port: 8080 -> 8081"]
    assert m.current.service.port == 8080 and len(m.history(10)) == 1


async def _watch_until(m: ConfigManager, save: Any, want: int) -> ReloadResult:
    results: list[ReloadResult] = []
    ready = asyncio.Event()
    task = asyncio.create_task(watch(m, results.append, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 5)
        save()
        async with asyncio.timeout(5):
            while not any(r.applied for r in results):
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert m.current.service.port == want
    return next(r for r in results if r.applied)


def test_the_watcher_applies_a_file_saved_through_a_rename(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    m.start()

    def save() -> None:
        tmp = tmp_path / "traderbot.toml.swp~"
        tmp.write_text(BASE.replace("8080", "8181"))
        os.replace(tmp, m.path)

    r = asyncio.run(_watch_until(m, save, 8181))
    assert r.diff == ["service.port: 8080 -> 8181"] and m.history(1)[0].author == "file watcher"


def test_the_watcher_applies_a_file_written_in_place(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    m.start()

    def save() -> None:
        with m.path.open("w") as f:
            f.write(BASE.replace("8080", "8282"))

    asyncio.run(_watch_until(m, save, 8282))

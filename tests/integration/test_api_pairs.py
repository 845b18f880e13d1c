"""Pairs through the API: the same registry, history and rules as `traderbot pairs`, read back by the CLI."""

from __future__ import annotations

import json

import pytest
from tests.api_harness import api_on, as_key

from traderbot.cli import main
from traderbot.pairs import PairRegistry, PairState


def test_add_list_disable_enable_remove_and_history(any_db_url: str) -> None:
    with api_on(any_db_url) as api:
        op, c = as_key(api.operator), api.client
        added = c.post("/api/v1/pairs", headers=op, json={"pair": "eur/usd", "timeframe": "15m",
                                                          "strategy": "sma_cross", "reason": "diversify"})  # fmt: skip
        assert added.status_code == 201
        assert added.json() | {"updated": None} == {
            "pair": "EURUSD", "state": "untrained", "enabled": True, "timeframe": "15m", "strategy": "sma_cross",
            "active_version": None, "updated": None, "row_version": 1}  # fmt: skip
        listed = c.get("/api/v1/pairs", headers=as_key(api.viewer)).json()["pairs"]
        assert [(p["pair"], p["last_trained"], p["oos_quality"]) for p in listed] == [("EURUSD", None, None)]
        off = c.put("/api/v1/pairs/EURUSD/disable", headers=op, json={"reason": "news"})
        assert off.json()["enabled"] is False and off.json()["changed"] is True
        assert (
            c.put("/api/v1/pairs/EURUSD/disable", headers=op, json={"reason": "x"}).json()["changed"] is False
        )
        assert (
            c.put("/api/v1/pairs/eurusd/enable", headers=op, json={"reason": "calm"}).json()["enabled"]
            is True
        )
        status = c.get("/api/v1/pairs/EURUSD/status", headers=as_key(api.viewer)).json()
        assert status["positions"] == [] and status["active_params"] is None
        assert (
            status["last_change"]["event"] == "enabled"
            and status["last_change"]["actor"] == "api:operator-test"
        )
        registry = PairRegistry(api.engine, "TB")  # what the running service follows
        assert registry.get("EURUSD").enabled and registry.get("EURUSD").row_version == 3
        removed = c.delete("/api/v1/pairs/EURUSD", headers=op, params={"reason": "done"})
        assert removed.json() == {"pair": "EURUSD", "removed": True} and registry.find("EURUSD") is None
        history = c.get("/api/v1/pairs/EURUSD/history", headers=as_key(api.viewer)).json()["events"]
        assert [(e["event"], e["actor"], e["reason"]) for e in history] == [
            ("added", "api:operator-test", "diversify"), ("disabled", "api:operator-test", "news"),
            ("enabled", "api:operator-test", "calm"), ("removed", "api:operator-test", "done")]  # fmt: skip


def test_a_trading_pair_cannot_be_removed_and_the_status_shows_its_parameters(any_db_url: str) -> None:
    with api_on(any_db_url) as api:
        registry = PairRegistry(api.engine, "TB")
        registry.add("GBPUSD", actor="t", reason="t", timeframe="15m", strategy="sma_cross")
        version = registry.save_params("GBPUSD", "sma_cross", {"fast": 5, "slow": 20}, {"oos_quality": 0.7},
                                       source="test")  # fmt: skip
        registry.activate_params("GBPUSD", version, actor="t", reason="t")
        for state in (PairState.TRAINING, PairState.READY, PairState.TRADING):
            registry.transition("GBPUSD", state, actor="t", reason="t")
        r = api.client.delete("/api/v1/pairs/GBPUSD", headers=as_key(api.operator), params={"reason": "x"})
        assert r.status_code == 409
        assert r.json()["error"]["message"] == "GBPUSD cannot be removed while trading: stop it first " \
                                               "(traderbot pairs stop GBPUSD)"  # fmt: skip
        status = api.client.get("/api/v1/pairs/GBPUSD/status", headers=as_key(api.viewer)).json()
        assert status["state"] == "trading" and status["active_params"]["params"] == {"fast": 5, "slow": 20}
        listed = api.client.get("/api/v1/pairs", headers=as_key(api.viewer)).json()["pairs"]
        assert listed[0]["oos_quality"] == 0.7 and listed[0]["last_trained"] is not None
        off = api.client.put(
            "/api/v1/pairs/GBPUSD/disable", headers=as_key(api.operator), json={"reason": "x"}
        )
        assert off.json()["state"] == "ready"  # disabling a trading pair stops it, as in the CLI


def test_the_cli_sees_what_the_api_changed(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    with api_on(url) as api:
        api.client.post("/api/v1/pairs", headers=as_key(api.operator), json={"pair": "AUDUSD", "reason": "r"})
    assert main(["pairs", "--db", url, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["pair"], row["state"], row["enabled"]) == ("AUDUSD", "untrained", True)


def test_the_listing_follows_changes_made_by_other_processes(any_db_url: str) -> None:
    """GET /pairs answers from a copy rebuilt when a pair changes: changes another process makes (the CLI, the
    service, a trainer) show at the next call, parameter versions included."""
    with api_on(any_db_url) as api:
        view, c = as_key(api.viewer), api.client
        other = PairRegistry(api.engine, "TB")  # another process's registry on the same database

        def listing() -> dict[str, tuple[object, ...]]:
            rows = c.get("/api/v1/pairs", headers=view).json()["pairs"]
            return {
                r["pair"]: (r["state"], r["enabled"], r["active_version"], r["oos_quality"]) for r in rows
            }

        assert listing() == {}
        other.add("GBPUSD", actor="cli", reason="new", timeframe="15m", strategy="sma_cross")
        assert listing() == {"GBPUSD": ("untrained", True, None, None)}
        assert listing() == {"GBPUSD": ("untrained", True, None, None)}  # unchanged: the same copy
        other.disable("GBPUSD", actor="cli", reason="news")
        assert listing()["GBPUSD"][1] is False
        version = other.save_params("GBPUSD", "sma_cross", {"fast": 5, "slow": 20}, {"oos_quality": 0.7},
                                    source="walk-forward", actor="trainer")  # fmt: skip
        other.activate_params("GBPUSD", version, actor="trainer", reason="best")
        assert listing()["GBPUSD"][2:] == (version, 0.7)
        other.remove("GBPUSD", actor="cli", reason="gone")
        assert listing() == {}

"""The operator's risk commands through the API (/risk/state, /risk/locks, /risk/overrides): sent to a real
running paper-trading service through the command channel and seen in its kernel and in /risk/status; bad input
refused with a 422 before any command is sent; without a service, 503."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.api_harness import api_on, as_key, table_counts

from traderbot.api.app import create_app
from traderbot.api.keys import KeyStore
from traderbot.api.settings import ApiSettings
from traderbot.risk.states import TradingState
from traderbot.service.service import TradingService
from traderbot.service.settings import PairSpec, ServiceSettings
from traderbot.store.api_models import ServiceCommandRecord

DAY = 24 * 60  # minutes: long enough that the replay's clock does not end a lock during the test


def test_risk_commands_reach_a_running_services_kernel(tmp_path: Path) -> None:
    spec = PairSpec("EURUSD", "15m", "sma_cross", {"fast": 5, "slow": 20}, "units:1000")
    service = TradingService(ServiceSettings(data_dir=tmp_path / "state", pairs=(spec,), speed=600.0))

    async def scenario() -> None:
        task = asyncio.create_task(service.run())  # runs its own command runner (TradingService._commands)
        try:
            await asyncio.wait_for(service.started.wait(), 20)
            keys = KeyStore(service.engine, "TB")
            viewer, operator = keys.create("viewer", "v")[1], keys.create("operator", "desk")[1]
            app = create_app(service.engine, "TB", service=service, settings=ApiSettings(command_timeout_s=4))
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c:
                await _while_running(c, service, as_key(viewer), as_key(operator))
        finally:
            service.stop()
            await task

    asyncio.run(scenario())


async def _while_running(c: httpx.AsyncClient, service: TradingService, viewer: dict[str, str],
                         operator: dict[str, str]) -> None:  # fmt: skip
    risk = service.kernel.risk
    body = {"scope": "pair:EURUSD", "state": "halted", "reason": "news at 14:30"}
    ask = {"scope": "system", "minutes": 5, "reason": "x"}
    for path, payload in (("/state", body), ("/locks", ask), ("/overrides", {**ask, "guard": "news"})):
        r = await c.post("/api/v1/risk" + path, headers=viewer, json=payload)
        assert r.status_code == 403, r.text
    r = await c.delete("/api/v1/risk/locks", headers=viewer, params={"scope": "system", "reason": "x"})
    assert r.status_code == 403
    assert risk.states.get("pair:EURUSD") is TradingState.ACTIVE and not risk.locks and not risk.overrides

    # a trading state: in the kernel at once, stored with who and why, shown by /risk/status
    r = await c.post("/api/v1/risk/state", headers=operator, json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["kind"] == "risk_state" and answer["status"] == "done"
    assert answer["result"] == {"scope": "pair:EURUSD", "state": "halted", "changed": True}
    assert risk.states.get("pair:EURUSD") is TradingState.HALTED
    assert risk.states.effective("sma_cross", "EURUSD") == (TradingState.HALTED, "pair:EURUSD")
    change = risk.states.store.history("pair:EURUSD")[-1]  # type: ignore[attr-defined]
    assert (change.new, change.actor, change.reason) == (TradingState.HALTED, "api:desk", "news at 14:30")
    status = await _get(c, viewer, "/risk/status")
    assert status["source"] == "service" and status["states"]["pair:EURUSD"] == "halted"
    assert status["system_state"] == "active"
    r = await c.post("/api/v1/risk/state", headers=operator, json=body)  # again: nothing changes
    assert r.status_code == 200 and r.json()["result"]["changed"] is False
    r = await c.post("/api/v1/risk/state", headers=operator,
                     json={"scope": "pair:EURUSD", "state": "ACTIVE", "reason": "news over"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert risk.states.get("pair:EURUSD") is TradingState.ACTIVE
    assert "pair:EURUSD" not in (await _get(c, viewer, "/risk/status"))["states"]

    # a lock for a while, then cleared; clearing it again is refused by the kernel (409)
    sent = {"scope": "strategy:sma_cross", "state": "reducing", "minutes": DAY, "reason": "review"}
    r = await c.post("/api/v1/risk/locks", headers=operator, json=sent)
    assert r.status_code == 200, r.text
    made = risk.locks.get("strategy:sma_cross", "manual")
    assert made is not None and made.action is TradingState.REDUCING and made.reason == "review (by api:desk)"
    assert made.until_ns == made.since_ns + DAY * 60 * 10**9  # the kernel's clock: the replay's time
    assert r.json()["result"]["lock"]["until_ns"] == made.until_ns
    shown = (await _get(c, viewer, "/risk/status"))["locks"]
    assert [(lk["scope"], lk["source"], lk["action"]) for lk in shown] == [
        ("strategy:sma_cross", "manual", "reducing")]  # fmt: skip
    r = await c.delete("/api/v1/risk/locks", headers=operator,
                       params={"scope": "strategy:sma_cross", "source": "manual", "reason": "reviewed"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert [lk["source"] for lk in r.json()["result"]["cleared"]] == ["manual"]
    assert risk.locks.get("strategy:sma_cross", "manual") is None
    assert (await _get(c, viewer, "/risk/status"))["locks"] == []
    r = await c.delete("/api/v1/risk/locks", headers=operator,
                       params={"scope": "strategy:sma_cross", "reason": "again"})  # fmt: skip
    assert r.status_code == 409, r.text
    assert "no lock on strategy:sma_cross" in r.json()["error"]["message"]

    # a lock until a time given as ISO 8601 (UTC without an offset)
    until = datetime(2099, 1, 2, 3, 4, 5, tzinfo=UTC)
    r = await c.post("/api/v1/risk/locks", headers=operator,
                     json={"scope": "pair:EURUSD", "until": "2099-01-02T03:04:05", "reason": "far"})  # fmt: skip
    assert r.status_code == 200, r.text
    lock = risk.locks.get("pair:EURUSD", "manual")
    assert lock is not None and lock.action is TradingState.HALTED
    assert lock.until_ns == int(until.timestamp()) * 10**9
    r = await c.delete(
        "/api/v1/risk/locks", headers=operator, params={"scope": "pair:EURUSD", "reason": "done"}
    )
    assert r.status_code == 200 and not risk.locks

    # an override: the guard bypassed for the scope until it expires
    override = {"scope": "pair:EURUSD", "guard": "news", "minutes": DAY, "reason": "known event"}
    r = await c.post("/api/v1/risk/overrides", headers=operator, json=override)
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert (result["guard"], result["actor"], result["until_ns"] - result["since_ns"]) == (
        "news", "api:desk", DAY * 60 * 10**9)  # fmt: skip
    now = service.kernel.cache.now_ns
    assert risk.overrides.bypassed("news", "sma_cross", "EURUSD", now)
    assert not risk.overrides.bypassed("spread", "sma_cross", "EURUSD", now)
    shown = (await _get(c, viewer, "/risk/status"))["overrides"]
    assert [(o["scope"], o["guard"], o["actor"]) for o in shown] == [("pair:EURUSD", "news", "api:desk")]

    # a refusal by the kernel: the system cannot be set active while the kill switch is engaged
    r = await c.post("/api/v1/risk/kill-switch", headers=operator, json={"reason": "incident"})
    assert r.status_code == 200, r.text
    r = await c.post("/api/v1/risk/state", headers=operator,
                     json={"scope": "system", "state": "active", "reason": "try"})  # fmt: skip
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "conflict" and "kill switch" in r.json()["error"]["message"]
    assert risk.state is TradingState.HALTED


async def _get(c: httpx.AsyncClient, headers: dict[str, str], path: str) -> dict[str, Any]:
    r = await c.get("/api/v1" + path, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


BAD: tuple[tuple[str, str, dict[str, Any], str], ...] = (
    ("POST", "/state", {"scope": "pairs:EURUSD", "state": "halted", "reason": "r"}, "scope 'pairs:EURUSD'"),
    ("POST", "/state", {"scope": "pair:", "state": "halted", "reason": "r"}, "scope 'pair:'"),
    ("POST", "/state", {"scope": "system", "state": "stopped", "reason": "r"}, "trading state 'stopped'"),
    ("POST", "/state", {"scope": "system", "state": "halted", "reason": "  "}, "non-blank reason"),
    ("POST", "/state", {"scope": "system", "state": "halted"}, "body.reason"),
    ("POST", "/state", {"scope": "system", "state": "halted", "reason": "r", "x": 1}, "body.x"),
    ("POST", "/locks", {"scope": "system", "minutes": -5, "reason": "r"}, "body.minutes"),
    ("POST", "/locks", {"scope": "system", "minutes": "5", "reason": "r"}, "body.minutes"),
    ("POST", "/locks", {"scope": "system", "reason": "r"}, "either minutes or until"),
    ("POST", "/locks", {"scope": "system", "minutes": 5, "until": "2099-01-01", "reason": "r"}, "not both"),
    ("POST", "/locks", {"scope": "system", "until": "tomorrow", "reason": "r"}, "not an ISO 8601 time"),
    ("POST", "/locks", {"scope": "system", "state": "active", "minutes": 5, "reason": "r"}, "not active"),
    ("POST", "/locks", {"scope": "everything", "minutes": 5, "reason": "r"}, "scope 'everything'"),
    ("POST", "/overrides", {"scope": "system", "guard": "drawdown", "minutes": 5, "reason": "r"}, "guard 'drawdown'"),
    ("POST", "/overrides", {"scope": "system", "guard": "news", "minutes": 0, "reason": "r"}, "body.minutes"),
    ("POST", "/overrides", {"scope": "system", "guard": "news", "reason": "r"}, "body.minutes"),
    ("POST", "/overrides", {"scope": "nope", "guard": "news", "minutes": 5, "reason": "r"}, "scope 'nope'"),
    ("DELETE", "/locks", {"scope": "system"}, "query.reason"),
    ("DELETE", "/locks", {"scope": "pair", "reason": "r"}, "scope 'pair'"),
)  # fmt: skip


def test_bad_input_is_a_422_and_sends_no_command(tmp_path: Path) -> None:
    with api_on(f"sqlite:///{tmp_path}/t.db", command_timeout_s=0.2) as api:
        before = table_counts(api.engine)
        for method, path, payload, says in BAD:
            kw: dict[str, Any] = {"params": payload} if method == "DELETE" else {"json": payload}
            r = api.client.request(method, "/api/v1/risk" + path, headers=as_key(api.operator), **kw)
            assert r.status_code == 422, (path, payload, r.text)
            error = r.json()["error"]
            assert error["code"] == "invalid_request" and says in error["message"], (payload, error)
        assert table_counts(api.engine) == before  # not one service_commands row


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("POST", "/state", {"scope": "pair:EURUSD", "state": "halted", "reason": "r"}),
        ("POST", "/locks", {"scope": "system", "minutes": 5, "reason": "r"}),
        ("DELETE", "/locks", {"scope": "system", "reason": "r"}),
        ("POST", "/overrides", {"scope": "system", "guard": "collar", "minutes": 5, "reason": "r"}),
    ],
)
def test_without_a_service_the_commands_answer_503(method: str, path: str, payload: dict[str, Any],
                                                   tmp_path: Path) -> None:  # fmt: skip
    with api_on(f"sqlite:///{tmp_path}/t.db", command_timeout_s=0.2) as api:
        kw: dict[str, Any] = {"params": payload} if method == "DELETE" else {"json": payload}
        r = api.client.request(method, "/api/v1/risk" + path, headers=as_key(api.operator), **kw)
        assert r.status_code == 503, r.text
        assert "the trading service is not running" in r.json()["error"]["message"]
        with api.engine.connect() as conn:  # the command was sent, then abandoned: no service runs it later
            rows = conn.execute(select(ServiceCommandRecord.kind, ServiceCommandRecord.status)).all()
        assert [tuple(row) for row in rows] == [(f"risk_{_kind(method, path)}", "failed")]


def _kind(method: str, path: str) -> str:
    return {"/state": "state", "/overrides": "override"}.get(path) or (
        "unlock" if method == "DELETE" else "lock"
    )

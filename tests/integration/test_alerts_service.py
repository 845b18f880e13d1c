"""A real paper-trading service with `[alerts]` in its configuration file: the kill switch engaged through the
command channel (as the API does) reaches a webhook, a fake Telegram Bot API and an SMTP server on 127.0.0.1,
while a notifier that is down changes nothing; the other rules fire from the running service; a hot reload
of `[alerts]` re-routes alerts."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from tests.alerts_harness import Receiver, SmtpServer, free_port
from tests.service_harness import run_service, until

from traderbot.api.commands import CommandKind, CommandQueue, CommandStatus, submit_and_wait
from traderbot.risk.states import SYSTEM, TradingState
from traderbot.service.from_config import settings_from_file
from traderbot.service.service import TradingService
from traderbot.store.training_store import TrainingStore
from traderbot.training.jobs import JobStatus

HEAD = """[service]
data_dir = "state"
[replay]
speed = "20000"
[[pairs]]
id = "EURUSD"
timeframe = "15m"
strategy = "sma_cross"
params = { fast = 5, slow = 20 }
"""


def alerts_toml(*, hooks: list[str], tg: str | None = None, smtp_port: int | None = None,
                error_rate: int = 1000) -> str:  # fmt: skip
    text = (f"[alerts]\ncheck_seconds = 0.05\ncooldown_minutes = 10\nmax_per_minute = 30\n"
            f"error_rate_per_min = {error_rate}\n")  # fmt: skip
    for url in hooks:
        text += f'[[alerts.webhook]]\nurl = "{url}"\nretries = 0\ntimeout_s = 2\n'
    if tg is not None:
        text += f'[[alerts.telegram]]\nbase_url = "{tg}"\ntoken_env = "TB_TEST_TG"\nchat_id = "-42"\n'
    if smtp_port is not None:
        text += (f'[[alerts.email]]\nhost = "127.0.0.1"\nport = {smtp_port}\nstarttls = false\n'
                 'from_addr = "bot@example.com"\nto = ["ops@example.com"]\n')  # fmt: skip
    return text


def rules_of(rx: Receiver) -> list[str]:
    return [b["rule"] for b in rx.bodies()]


def test_the_kill_switch_reaches_every_notifier_and_a_dead_one_stops_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TB_TEST_TG", "7:TOKEN")
    dead = f"http://127.0.0.1:{free_port()}/hook"
    with Receiver() as hook, Receiver(telegram_token="7:TOKEN") as tg, SmtpServer() as smtp:
        cfg = tmp_path / "traderbot.toml"
        cfg.write_text(HEAD + alerts_toml(hooks=[dead, hook.url + "/tb"], tg=tg.url, smtp_port=smtp.port))
        service = TradingService(settings_from_file(cfg))

        async def body() -> None:
            await until(lambda: service.feed.released > 20, what="the replay trading")
            assert service.alerts is not None and hook.requests == []
            queue = CommandQueue(service.engine, "TB")
            t0 = time.monotonic()
            done = await submit_and_wait(queue, CommandKind.KILL_SWITCH, {"reason": "incident", "actor": "desk"},
                                         "desk", timeout_s=5)  # fmt: skip
            assert done.status is CommandStatus.DONE
            await until(lambda: len(hook.requests) == 1, what="the kill-switch alert at the webhook")
            took = time.monotonic() - t0
            await until(lambda: len(tg.requests) == 1 and len(smtp.messages) == 1, what="Telegram and email")
            assert took < 2.0
            released = service.feed.released
            checks = service.alerts.monitor.checks
            await until(lambda: service.alerts is not None and service.alerts.monitor.checks > checks + 10,
                        what="ten more checks")  # fmt: skip
            assert len(hook.requests) == 1  # still engaged: de-duplicated within the cooldown
            assert service.feed.released > released  # the kernel kept going
            await submit_and_wait(queue, CommandKind.REARM, {"reason": "all clear", "actor": "desk"}, "desk",
                                  timeout_s=5)  # fmt: skip
            await until(lambda: not service.alerts or "kill_switch" not in service.alerts.monitor.active,
                        what="resolved")  # fmt: skip
            await submit_and_wait(queue, CommandKind.KILL_SWITCH, {"reason": "again", "actor": "desk"}, "desk",
                                  timeout_s=5)  # fmt: skip
            await until(lambda: len(hook.requests) == 2, what="the second engagement's alert")
            status = {s["notifier"]: s for s in service.alerts.dispatcher.status()}
            assert status[f"webhook[0] {dead.split('/')[2]}"]["failed"] >= 1

        run_service(service, body)

    first, second = hook.bodies()
    assert first["rule"] == "kill_switch" and first["severity"] == "critical"
    assert first["title"] == "Kill switch engaged" and first["message"].startswith(
        "Engaged by desk: incident."
    )
    assert second["message"].startswith("Engaged by desk: again.")
    assert hook.requests[0].path == "/tb"
    assert tg.requests[0].path == "/bot7:TOKEN/sendMessage" and tg.requests[0].body["chat_id"] == "-42"
    assert tg.requests[0].body["text"].startswith("[CRITICAL] Kill switch engaged")
    assert smtp.messages[0][2]["Subject"] == "[traderbot] CRITICAL: Kill switch engaged"


def test_the_running_service_alerts_on_pauses_failed_training_errors_and_drawdown(tmp_path: Path) -> None:
    with Receiver() as hook:
        cfg = tmp_path / "traderbot.toml"
        cfg.write_text(HEAD + alerts_toml(hooks=[hook.url], error_rate=3))
        service = TradingService(settings_from_file(cfg))

        async def body() -> None:
            await until(lambda: "EURUSD" in service.host.running, what="EURUSD trading")
            service.registry.mark_locked("EURUSD", "3 losses in a row", actor="risk")
            await until(lambda: "pair_paused" in rules_of(hook), what="the pause alert")

            store = TrainingStore(service.engine)
            now = time.time_ns()
            store.enqueue(pair="GBPUSD", kind="train", fn="x", payload={}, priority=0, timeout_s=60,
                          max_attempts=1, now=now)  # fmt: skip
            job = store.claim_next("test", now)
            assert job is not None
            store.finish(job, JobStatus.FAILED, now=time.time_ns(), error="no data for GBPUSD 15m")
            await until(lambda: "training_failed" in rules_of(hook), what="the training alert")

            for i in range(4):
                logging.getLogger("traderbot.test").error("broker said no (%d)", i)
            await until(lambda: "error_rate" in rules_of(hook), what="the error-rate alert")

            k = service.kernel  # the drawdown protection as the risk engine sets it
            k.risk.locks.add(SYSTEM, "protection:drawdown", TradingState.HALTED,
                             "drawdown 12.00% >= max 10%", until_ns=None)  # fmt: skip
            await until(lambda: "drawdown" in rules_of(hook), what="the drawdown alert")

        run_service(service, body)

    by_rule = {b["rule"]: b for b in hook.bodies()}
    assert by_rule["pair_paused"]["key"] == "pair_paused:EURUSD"
    assert by_rule["pair_paused"]["message"] == "EURUSD is paused: 3 losses in a row."
    assert by_rule["training_failed"]["message"].endswith(
        "failed after 1 attempt(s): no data for GBPUSD 15m."
    )
    assert by_rule["error_rate"]["message"].startswith("4 errors logged in the last minute (threshold 3).")
    assert "traderbot.test: broker said no (3)" in by_rule["error_rate"]["message"]
    assert (
        by_rule["drawdown"]["message"]
        == "The drawdown protection locked trading: drawdown 12.00% >= max 10%."
    )
    assert "trading_halted" not in by_rule  # the drawdown lock is the drawdown rule's, not a second alert


def test_a_hot_reload_of_alerts_reroutes_the_next_alert(tmp_path: Path) -> None:
    with Receiver() as old, Receiver() as new:
        cfg = tmp_path / "traderbot.toml"
        cfg.write_text(HEAD + alerts_toml(hooks=[old.url]))
        service = TradingService(settings_from_file(cfg))

        async def body() -> None:
            await until(lambda: service.feed.released > 5, what="the replay")
            cfg.write_text(HEAD + alerts_toml(hooks=[new.url]))
            assert service.config is not None
            result = service.config.reload(author="test")  # as SIGHUP or the API's reload do
            assert result.applied and result.sections == ("alerts",), result.outcome
            service.kernel.kill_switch.engage(actor="desk", reason="after reload")
            await until(lambda: len(new.requests) == 1, what="the alert at the new webhook")
            await asyncio.sleep(0.2)

        run_service(service, body)
    assert old.requests == [] and rules_of(new) == ["kill_switch"]

"""The dispatcher against real local receivers: de-duplication, the per-notifier rate limit with its summary,
a notifier that is down or hung delays nobody else, and `fire` never blocks."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from tests.alerts_harness import Receiver, Silent, free_port
from tests.service_harness import until

from traderbot.alerts import Alert, Severity, WebhookConfig
from traderbot.alerts.dispatcher import AlertDispatcher
from traderbot.alerts.webhook import WebhookNotifier


class Clock:
    """A settable monotonic clock for the cooldown and the rate window."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def alert(key: str, rule: str = "pair_paused") -> Alert:
    return Alert(rule, Severity.WARNING, key, f"title {key}", f"message {key}")


def hook(url: str, index: int = 0, **kw: object) -> WebhookNotifier:
    return WebhookNotifier(WebhookConfig(url=url, **kw), index)  # type: ignore[arg-type]


def test_the_same_key_is_sent_once_per_cooldown_and_again_after_it_resolves() -> None:
    clock = Clock()

    async def scenario(rx: Receiver) -> None:
        d = AlertDispatcher([hook(rx.url)], cooldown_s=600, max_per_minute=100, clock=clock, tick_s=0.05)
        d.start()
        assert d.fire(alert("pair_paused:EURUSD"))
        assert not d.fire(alert("pair_paused:EURUSD"))  # within the cooldown: held back
        assert d.fire(alert("pair_paused:GBPUSD"))  # another key
        clock.t += 599
        assert not d.fire(alert("pair_paused:EURUSD"))
        d.resolve("pair_paused:EURUSD")  # resolved, then fired again: sent again at once
        assert d.fire(alert("pair_paused:EURUSD"))
        clock.t += 600  # still active after a whole cooldown: a reminder goes out
        assert d.fire(alert("pair_paused:EURUSD"))
        await until(lambda: len(rx.requests) == 4, what="4 alerts received")
        await asyncio.sleep(0.1)
        await d.stop()
        assert d.dedupe.suppressed == 2

    with Receiver() as rx:
        asyncio.run(scenario(rx))
    keys = [b["key"] for b in rx.bodies()]
    assert keys == ["pair_paused:EURUSD", "pair_paused:GBPUSD", "pair_paused:EURUSD", "pair_paused:EURUSD"]


def test_the_rate_limit_holds_back_the_excess_and_sends_one_summary_later() -> None:
    clock = Clock()

    async def scenario(rx: Receiver) -> None:
        d = AlertDispatcher([hook(rx.url)], cooldown_s=600, max_per_minute=3, clock=clock, tick_s=0.02)
        d.start()
        for i in range(5):
            d.fire(alert(f"pair_paused:P{i}"))
        d.fire(alert("training_failed:7", rule="training_failed"))
        d.fire(alert("training_failed:8", rule="training_failed"))
        await until(lambda: d.outboxes[0].limit.total_over == 4, what="4 held back")
        await asyncio.sleep(0.1)
        assert len(rx.requests) == 3  # nothing more within the minute, not even the summary
        clock.t += 60  # the window has moved on: one summary, once
        await until(lambda: len(rx.requests) == 4, what="the summary")
        await asyncio.sleep(0.1)
        await d.stop()
        assert d.status()[0]["rate_limited"] == 4

    with Receiver() as rx:
        asyncio.run(scenario(rx))
    bodies = rx.bodies()
    assert [b["key"] for b in bodies[:3]] == ["pair_paused:P0", "pair_paused:P1", "pair_paused:P2"]
    summary = bodies[3]
    assert summary["rule"] == "rate_limit"
    assert summary["title"] == "4 alert(s) not sent: over the limit of 3 per minute"
    assert summary["message"] == "held back by the rate limit: pair_paused x2, training_failed x2"


def test_a_notifier_that_is_down_or_hung_does_not_delay_the_others(caplog: pytest.LogCaptureFixture) -> None:
    silent = Silent()
    refused = f"http://127.0.0.1:{free_port()}/hook"

    async def scenario(rx: Receiver) -> float:
        d = AlertDispatcher([hook(silent.url, 0, timeout_s=3, retries=1), hook(refused, 1, retries=1),
                             hook(rx.url, 2)],
                            cooldown_s=600, max_per_minute=100, tick_s=0.05, backoff_s=0.05)  # fmt: skip
        d.start()
        t0 = time.monotonic()
        d.fire(alert("kill_switch", rule="kill_switch"))
        d.fire(alert("drawdown", rule="drawdown"))
        await until(lambda: len(rx.requests) == 2, what="both alerts at the working receiver")
        took = time.monotonic() - t0
        await until(lambda: d.outboxes[1].failed == 2, what="the refused notifier's failures")
        await d.stop(grace_s=0)
        return took

    with caplog.at_level(logging.WARNING, logger="traderbot.alerts"), Receiver() as rx:
        took = asyncio.run(scenario(rx))
    silent.close()
    assert took < 2.5  # not held behind the hung endpoint's 3 s timeout
    assert [b["key"] for b in rx.bodies()] == ["kill_switch", "drawdown"]
    failures = [r.getMessage() for r in caplog.records if "not sent by webhook[1]" in r.getMessage()]
    assert failures and "ConnectError" in failures[0]


def test_fire_never_blocks_and_a_full_queue_drops_and_counts() -> None:
    silent = Silent()

    async def scenario() -> tuple[float, list[dict[str, object]]]:
        d = AlertDispatcher([hook(silent.url, timeout_s=5, retries=0)], cooldown_s=600, max_per_minute=1000,
                            queue_size=10, tick_s=0.05)  # fmt: skip
        d.start()
        t0 = time.perf_counter()
        for i in range(1000):
            d.fire(alert(f"pair_paused:P{i}"))
        took = time.perf_counter() - t0
        status = d.status()
        await d.stop(grace_s=0)
        return took, status

    took, status = asyncio.run(scenario())
    silent.close()
    assert took < 0.5
    assert status[0]["dropped"] == 990 and status[0]["waiting"] == 10

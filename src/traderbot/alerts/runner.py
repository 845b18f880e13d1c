"""The alerts of a running service: the dispatcher (senders), the monitor (rules) and the error-rate handler,
started and stopped with the service, re-configured by a hot reload of `[alerts]`; and the test message of
`traderbot alerts test`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import TYPE_CHECKING

from traderbot.alerts.config import AlertsSection
from traderbot.alerts.dispatcher import AlertDispatcher
from traderbot.alerts.error_rate import ErrorRate
from traderbot.alerts.model import Alert, Severity
from traderbot.alerts.monitor import AlertMonitor, Sources, Thresholds
from traderbot.alerts.notifier import build_notifiers, deliver

if TYPE_CHECKING:
    from traderbot.data.cache_validate import CacheHealth
    from traderbot.service.service import TradingService

log = logging.getLogger("traderbot.alerts")


def thresholds(config: AlertsSection) -> Thresholds:
    return Thresholds(frozenset(config.rules), config.drawdown_pct, config.error_rate_per_min)


def missing_env(config: AlertsSection) -> list[str]:
    """The environment variables the notifiers name that are not set (each notifier fails until they are)."""
    names = [v for c in config.webhook for v in c.headers_env.values()]
    names += [c.password_env for c in config.email if c.username and c.password_env]
    names += [c.token_env for c in config.telegram]
    return sorted({n for n in names if not os.environ.get(n)})


class AlertService:
    def __init__(self, config: AlertsSection, sources: Sources, *, tick_s: float = 1.0,
                 backoff_s: float = 0.5) -> None:  # fmt: skip
        self.config = config
        self.errors = sources.errors = sources.errors or ErrorRate()
        self.dispatcher = AlertDispatcher(
            build_notifiers(config) if config.enabled else [], cooldown_s=config.cooldown_minutes * 60,
            max_per_minute=config.max_per_minute, queue_size=config.queue_size, tick_s=tick_s,
            backoff_s=backoff_s,
        )  # fmt: skip
        self.monitor = AlertMonitor(self.dispatcher, sources, thresholds(config))
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_service(cls, service: TradingService, config: AlertsSection) -> AlertService:
        """Rules over the service's kernel, pair registry, cache job, broker link and training queue."""
        from traderbot.store.training_store import TrainingStore

        def cache_health() -> dict[str, CacheHealth]:
            job = service.cache_job
            return dict(job.health) if job is not None else {}

        def broker_down() -> bool:
            venue = getattr(getattr(service, "link", None), "venue", None)
            return bool(getattr(venue, "_stream_down", False))

        sources = Sources(service.kernel, service.registry, cache_health if service.live else None,
                          broker_down if service.live else None, TrainingStore(service.engine))  # fmt: skip
        return cls(config, sources)

    def start(self) -> None:
        """On the service's loop: senders, the rules' task, the error-rate handler on the root logger."""
        missing = missing_env(self.config) if self.config.enabled else []
        if missing:
            log.warning("alerts: environment variable(s) %s not set: the notifiers naming them will fail",
                        ", ".join(missing))  # fmt: skip
        self.errors.install()
        self.monitor.attach(self.monitor.sources.kernel.bus)
        self.dispatcher.start()
        self._spawn()

    def _spawn(self) -> None:
        if self.config.enabled and self._task is None:
            run = self.monitor.run(self._stopping, self.config.check_seconds)
            self._task = asyncio.get_running_loop().create_task(run)

    async def stop(self, grace_s: float = 2.0) -> None:
        """Stop checking, give queued alerts up to `grace_s` to go out, stop the senders."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.monitor.detach(self.monitor.sources.kernel.bus)
        self.errors.remove()
        await self.dispatcher.stop(grace_s)

    def configure(self, config: AlertsSection) -> None:
        """A reloaded `[alerts]` (on the loop's thread): notifiers, limits and rules replaced at once."""
        self.config = config
        self.dispatcher.configure(build_notifiers(config) if config.enabled else [],
                                  cooldown_s=config.cooldown_minutes * 60, max_per_minute=config.max_per_minute,
                                  queue_size=config.queue_size)  # fmt: skip
        self.monitor.thresholds = thresholds(config)
        if not config.enabled and self._task is not None:
            self._task.cancel()
            self._task = None
        self._spawn()


async def send_test(config: AlertsSection, *, backoff_s: float = 0.5) -> list[tuple[str, str | None]]:
    """A test alert to every configured notifier at once (no de-duplication, no rate limit); per notifier its
    label and None when sent, else the error."""
    notifiers = build_notifiers(config)
    alert = Alert("test", Severity.INFO, "test", "traderbot test alert",
                  "This is a test alert from `traderbot alerts test`: this notifier works.")  # fmt: skip
    results = await asyncio.gather(*(deliver(n, alert, backoff_s=backoff_s) for n in notifiers))
    return [(n.label, err) for n, err in zip(notifiers, results, strict=True)]

"""What a notifier is, how the configured ones are built, and one delivery with a timeout and retries."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

from traderbot.alerts.model import Alert

if TYPE_CHECKING:
    from traderbot.alerts.config import AlertsSection


class NotifierError(Exception):
    """A notifier could not send (a missing variable, a refusal by the server); the text says which and why."""


class Notifier(Protocol):
    label: str  # names it in logs and reports, without secrets (e.g. `webhook[0] hooks.example.com`)
    timeout_s: float  # per attempt
    retries: int  # attempts after the first

    async def send(self, alert: Alert) -> None:
        """Send one alert; raise on failure."""


def build_notifiers(config: AlertsSection) -> list[Notifier]:
    """Every notifier of the `[alerts]` section, webhooks first, then email, then Telegram."""
    from traderbot.alerts.smtp import EmailNotifier
    from traderbot.alerts.telegram import TelegramNotifier
    from traderbot.alerts.webhook import WebhookNotifier

    out: list[Notifier] = [WebhookNotifier(c, i) for i, c in enumerate(config.webhook)]
    out += [EmailNotifier(c, i) for i, c in enumerate(config.email)]
    out += [TelegramNotifier(c, i) for i, c in enumerate(config.telegram)]
    return out


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, NotifierError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def deliver(notifier: Notifier, alert: Alert, *, backoff_s: float = 0.5) -> str | None:
    """Send with the notifier's timeout and retries (waiting backoff_s, 2x, 4x... capped at 30 s between
    attempts); returns None when sent, else the last error as one line. Never raises (except cancellation)."""
    error = ""
    for attempt in range(notifier.retries + 1):
        if attempt:
            await asyncio.sleep(min(backoff_s * 2 ** (attempt - 1), 30.0))
        try:
            await asyncio.wait_for(notifier.send(alert), notifier.timeout_s)
            return None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = describe_error(exc)
    return error

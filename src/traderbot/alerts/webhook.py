"""The webhook notifier: the alert as JSON (`Alert.to_dict`) POSTed to a URL, with optional custom headers."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import httpx

from traderbot.alerts.config import WebhookConfig
from traderbot.alerts.model import Alert
from traderbot.alerts.notifier import NotifierError


class WebhookNotifier:
    def __init__(self, config: WebhookConfig, index: int = 0) -> None:
        self.config = config
        self.timeout_s, self.retries = config.timeout_s, config.retries
        where = urlsplit(config.url).netloc  # never the path: it often carries the hook's secret
        self.label = f"webhook[{index}]{' ' + config.name if config.name else ''} {where}"

    def headers(self) -> dict[str, str]:
        out = {"User-Agent": "traderbot-alerts", **self.config.headers}
        for header, var in self.config.headers_env.items():
            value = os.environ.get(var)
            if not value:
                raise NotifierError(f"environment variable {var} (header {header}) is not set: export it")
            out[header] = value
        return out

    async def send(self, alert: Alert) -> None:
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            r = await client.post(self.config.url, json=alert.to_dict(), headers=self.headers())
        if r.status_code >= 300:
            raise NotifierError(f"the webhook answered HTTP {r.status_code}: {r.text[:200]}")

"""The Telegram notifier: Bot API `POST {base_url}/bot<token>/sendMessage` with `chat_id` and `text` (JSON);
the answer must be `{"ok": true, ...}`. The token comes from the environment and never appears in a message."""

from __future__ import annotations

import os
from typing import Any

import httpx

from traderbot.alerts.config import TelegramConfig
from traderbot.alerts.model import Alert
from traderbot.alerts.notifier import NotifierError

MAX_TEXT = 4096  # the Bot API's limit for one message


class TelegramNotifier:
    def __init__(self, config: TelegramConfig, index: int = 0) -> None:
        self.config = config
        self.timeout_s, self.retries = config.timeout_s, config.retries
        self.label = f"telegram[{index}]{' ' + config.name if config.name else ''} chat {config.chat_id}"

    def token(self) -> str:
        token = os.environ.get(self.config.token_env, "").strip()
        if not token:
            raise NotifierError(
                f"environment variable {self.config.token_env} is not set: export the bot token"
            )
        return token

    async def send(self, alert: Alert) -> None:
        token = self.token()
        url = f"{self.config.base_url}/bot{token}/sendMessage"
        body = {"chat_id": self.config.chat_id, "text": alert.text()[:MAX_TEXT]}
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                r = await client.post(url, json=body)
        except httpx.HTTPError as exc:  # the message may quote the URL, which holds the token
            raise NotifierError(f"{type(exc).__name__}: {str(exc).replace(token, '<token>')}") from None
        answer: Any
        try:
            answer = r.json()
        except ValueError:
            answer = None
        if r.status_code != 200 or not isinstance(answer, dict) or answer.get("ok") is not True:
            why = answer.get("description") if isinstance(answer, dict) else r.text[:200]
            raise NotifierError(
                f"Telegram answered HTTP {r.status_code}: {str(why).replace(token, '<token>')}"
            )

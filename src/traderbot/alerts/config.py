"""The `[alerts]` section of `traderbot.toml`: which rules fire, their thresholds, and the notifiers.

Secrets are never in the file: an SMTP password, a Telegram bot token and secret webhook headers are read from
the environment variables the file names (`password_env`, `token_env`, `headers_env`) when a message is sent.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, field_validator

from traderbot.alerts.model import Rule

ALL_RULES: tuple[str, ...] = tuple(r.value for r in Rule)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _env_name(v: str) -> str:
    if v and not _ENV_NAME.match(v):
        raise ValueError(
            "is not an environment variable name (use letters, digits and _, e.g. SMTP_PASSWORD)"
        )
    return v


def _http_url(v: str) -> str:
    if not v.startswith(("http://", "https://")) or len(v) < 10:
        raise ValueError("is not an http(s) URL (e.g. https://hooks.example.com/traderbot)")
    return v


class _Sender(_Model):
    """What every notifier shares: an optional name (for reports), the per-attempt timeout and the retries."""

    name: str = ""
    timeout_s: float = 10.0
    retries: StrictInt = 2  # attempts after the first one fails

    @field_validator("timeout_s")
    @classmethod
    def _timeout(cls, v: float) -> float:
        if not 0 < v <= 300:
            raise ValueError("must be a number of seconds above 0 and at most 300 (e.g. 10)")
        return v

    @field_validator("retries")
    @classmethod
    def _retries(cls, v: int) -> int:
        if not 0 <= v <= 10:
            raise ValueError("must be from 0 to 10 (e.g. 2)")
        return v


class WebhookConfig(_Sender):
    """HTTP POST of the alert as JSON to `url`, with `headers` and `headers_env` (header -> variable)."""

    url: str
    headers: dict[str, str] = {}
    headers_env: dict[str, str] = {}

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v)

    @field_validator("headers_env")
    @classmethod
    def _env_headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v.values():
            _env_name(name)
        return v


class EmailConfig(_Sender):
    """SMTP: to `host:port`, STARTTLS when `starttls`, implicit TLS when `ssl`, login when `username`."""

    host: str
    port: StrictInt = 587
    starttls: StrictBool = True
    ssl: StrictBool = False
    username: str = ""
    password_env: str = ""
    from_addr: str
    to: tuple[str, ...]
    subject_prefix: str = "[traderbot]"

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must name the SMTP server (e.g. smtp.example.com)")
        return v

    @field_validator("port")
    @classmethod
    def _port(cls, v: int) -> int:
        if not 1 <= v <= 65535:
            raise ValueError("is not a TCP port (use 1..65535, e.g. 587)")
        return v

    @field_validator("password_env")
    @classmethod
    def _password(cls, v: str) -> str:
        return _env_name(v)

    @field_validator("from_addr")
    @classmethod
    def _from(cls, v: str) -> str:
        if "@" not in v:
            raise ValueError("is not an email address (e.g. traderbot@example.com)")
        return v

    @field_validator("to")
    @classmethod
    def _to(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or any("@" not in a for a in v):
            raise ValueError('must list email addresses (e.g. ["ops@example.com"])')
        return v


class TelegramConfig(_Sender):
    """Telegram Bot API: `POST {base_url}/bot<token>/sendMessage` with `chat_id` and `text`."""

    base_url: str = "https://api.telegram.org"
    token_env: str = "TELEGRAM_BOT_TOKEN"
    chat_id: str

    @field_validator("base_url")
    @classmethod
    def _base(cls, v: str) -> str:
        return _http_url(v).rstrip("/")

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("chat_id")
    @classmethod
    def _chat(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must name the chat (its numeric id, e.g. -1001234567890, or @channel)")
        return v

    @field_validator("token_env")
    @classmethod
    def _token(cls, v: str) -> str:
        if not v:
            raise ValueError("must name the environment variable holding the bot token")
        return _env_name(v)


class AlertsSection(_Model):
    """Alert rules and notifiers. Thresholds: account drawdown from its peak (%), ERROR log records per minute,
    the de-duplication cooldown (the same key is sent once per cooldown until it resolves) and the rate limit
    per notifier (alerts per minute; the excess is counted and summarised in one later message)."""

    enabled: StrictBool = True
    rules: tuple[str, ...] = ALL_RULES
    drawdown_pct: Decimal = Decimal(10)
    error_rate_per_min: StrictInt = 10
    cooldown_minutes: float = 15.0
    max_per_minute: StrictInt = 6
    check_seconds: float = 2.0  # how often the service's state is checked
    queue_size: StrictInt = 1000  # alerts waiting to be sent; beyond it new ones are dropped (and counted)
    webhook: tuple[WebhookConfig, ...] = ()
    email: tuple[EmailConfig, ...] = ()
    telegram: tuple[TelegramConfig, ...] = ()

    @field_validator("rules")
    @classmethod
    def _rules(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [r for r in v if r not in ALL_RULES]
        if bad:
            raise ValueError(f"names unknown rule(s) {', '.join(bad)} (rules: {', '.join(ALL_RULES)})")
        return v

    @field_validator("drawdown_pct", mode="before")
    @classmethod
    def _pct_text(cls, v: Any) -> Any:
        return Decimal(repr(v)) if isinstance(v, float) else v

    @field_validator("drawdown_pct")
    @classmethod
    def _pct(cls, v: Decimal) -> Decimal:
        if not v.is_finite() or not 0 < v <= 100:
            raise ValueError("must be a percentage above 0 and at most 100 (e.g. 10)")
        return v

    @field_validator("error_rate_per_min", "max_per_minute")
    @classmethod
    def _count(cls, v: int) -> int:
        if not 1 <= v <= 100_000:
            raise ValueError("must be a whole number from 1 to 100000")
        return v

    @field_validator("queue_size")
    @classmethod
    def _queue(cls, v: int) -> int:
        if not 1 <= v <= 1_000_000:
            raise ValueError("must be a whole number from 1 to 1000000 (e.g. 1000)")
        return v

    @field_validator("cooldown_minutes")
    @classmethod
    def _cooldown(cls, v: float) -> float:
        if not 0 < v <= 7 * 24 * 60:
            raise ValueError("must be a number of minutes above 0 and at most a week (10080), e.g. 15")
        return v

    @field_validator("check_seconds")
    @classmethod
    def _check(cls, v: float) -> float:
        if not 0 < v <= 3600:
            raise ValueError("must be a number of seconds above 0 and at most 3600 (e.g. 2)")
        return v

    def notifier_count(self) -> int:
        return len(self.webhook) + len(self.email) + len(self.telegram)

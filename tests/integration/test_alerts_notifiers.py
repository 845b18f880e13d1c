"""Each notifier against a real local server: the webhook and a fake Telegram Bot API over HTTP on 127.0.0.1,
email through an aiosmtpd SMTP server; retries, timeouts and clear failures."""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.alerts_harness import Receiver, Silent, SmtpServer, free_port

from traderbot.alerts import Alert, EmailConfig, Severity, TelegramConfig, WebhookConfig
from traderbot.alerts.notifier import deliver
from traderbot.alerts.smtp import EmailNotifier
from traderbot.alerts.telegram import TelegramNotifier
from traderbot.alerts.webhook import WebhookNotifier

ALERT = Alert(
    "kill_switch", Severity.CRITICAL, "kill_switch", "Kill switch engaged", "Engaged by desk: incident"
)


def test_the_webhook_posts_the_alert_as_json_with_its_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    with Receiver() as rx:
        cfg = WebhookConfig(url=rx.url + "/hooks/tb", headers={"X-Team": "desk"},
                            headers_env={"Authorization": "HOOK_SECRET"})  # fmt: skip
        notifier = WebhookNotifier(cfg)
        assert asyncio.run(deliver(notifier, ALERT)) is None
    [req] = rx.requests
    assert req.path == "/hooks/tb"
    assert req.headers["X-Team"] == "desk" and req.headers["Authorization"] == "s3cret"
    assert req.body == {"rule": "kill_switch", "severity": "critical", "key": "kill_switch",
                        "title": "Kill switch engaged", "message": "Engaged by desk: incident",
                        "time": ALERT.time_iso(), "ts_ns": ALERT.ts_ns}  # fmt: skip
    assert "/hooks" not in notifier.label  # the path (often the hook's secret) is never in logs


def test_a_webhook_header_whose_variable_is_missing_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HOOK_SECRET", raising=False)
    with Receiver() as rx:
        cfg = WebhookConfig(url=rx.url, headers_env={"Authorization": "HOOK_SECRET"}, retries=0)
        error = asyncio.run(deliver(WebhookNotifier(cfg), ALERT))
    assert error == "environment variable HOOK_SECRET (header Authorization) is not set: export it"
    assert rx.requests == []


def test_a_failing_webhook_is_retried_until_it_answers() -> None:
    with Receiver(fail_first=2) as rx:
        notifier = WebhookNotifier(WebhookConfig(url=rx.url, retries=2))
        assert asyncio.run(deliver(notifier, ALERT, backoff_s=0.01)) is None
        assert len(rx.requests) == 1
    with Receiver(fail_first=5) as rx:
        notifier = WebhookNotifier(WebhookConfig(url=rx.url, retries=1))
        error = asyncio.run(deliver(notifier, ALERT, backoff_s=0.01))
    assert error is not None and error.startswith("the webhook answered HTTP 500")


def test_a_hung_endpoint_times_out_per_attempt() -> None:
    silent = Silent()
    try:
        notifier = WebhookNotifier(WebhookConfig(url=silent.url, timeout_s=0.2, retries=1))
        t0 = time.monotonic()
        error = asyncio.run(deliver(notifier, ALERT, backoff_s=0.01))
        took = time.monotonic() - t0
    finally:
        silent.close()
    assert error is not None and ("timed out" in error or "Timeout" in error)
    assert took < 1.5


def test_telegram_sends_chat_id_and_text_to_the_bot_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_TOKEN", "123:ABC")
    with Receiver(telegram_token="123:ABC") as api:
        cfg = TelegramConfig(base_url=api.url, token_env="TG_TOKEN", chat_id="-100200")
        assert asyncio.run(deliver(TelegramNotifier(cfg), ALERT)) is None
    [req] = api.requests
    assert req.path == "/bot123:ABC/sendMessage"
    assert req.body["chat_id"] == "-100200"
    assert req.body["text"].startswith("[CRITICAL] Kill switch engaged\nEngaged by desk: incident")
    assert api.rejected == []


def test_a_wrong_telegram_token_fails_without_leaking_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_TOKEN", "999:WRONG")
    with Receiver(telegram_token="123:ABC") as api:
        cfg = TelegramConfig(base_url=api.url, token_env="TG_TOKEN", chat_id="42", retries=0)
        error = asyncio.run(deliver(TelegramNotifier(cfg), ALERT))
    assert error == "Telegram answered HTTP 401: Unauthorized"
    assert api.rejected == ["token"]
    monkeypatch.delenv("TG_TOKEN")
    error = asyncio.run(deliver(TelegramNotifier(cfg), ALERT))
    assert error == "environment variable TG_TOKEN is not set: export the bot token"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_is_delivered_over_smtp_with_the_password_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMTP_PW", "hunter2")
    with SmtpServer(user="bot", password="hunter2") as smtp:
        cfg = EmailConfig(host="127.0.0.1", port=smtp.port, starttls=False, username="bot",
                          password_env="SMTP_PW", from_addr="bot@example.com",
                          to=("ops@example.com", "cto@example.com"))  # fmt: skip
        assert asyncio.run(deliver(EmailNotifier(cfg), ALERT)) is None
        monkeypatch.setenv("SMTP_PW", "wrong")
        error = asyncio.run(deliver(EmailNotifier(cfg.model_copy(update={"retries": 0})), ALERT))
    [(sender, rcpts, msg)] = smtp.messages
    assert sender == "bot@example.com" and rcpts == ["ops@example.com", "cto@example.com"]
    assert msg["Subject"] == "[traderbot] CRITICAL: Kill switch engaged"
    assert msg["X-Traderbot-Alert"] == "kill_switch"
    assert "Engaged by desk: incident" in msg.get_payload()
    assert error is not None and "535" in error  # authentication refused: reported, not raised


def test_email_with_starttls_against_a_server_without_it_fails_clearly() -> None:
    with SmtpServer() as smtp:
        cfg = EmailConfig(host="127.0.0.1", port=smtp.port, starttls=True, from_addr="bot@example.com",
                          to=("ops@example.com",), retries=0)  # fmt: skip
        error = asyncio.run(deliver(EmailNotifier(cfg), ALERT))
    assert error == (f"127.0.0.1:{smtp.port} does not offer STARTTLS: set starttls = false or use the "
                     "server's TLS port")  # fmt: skip
    assert smtp.messages == []


def test_an_smtp_server_that_is_down_is_an_error_not_an_exception() -> None:
    cfg = EmailConfig(host="127.0.0.1", port=free_port(), starttls=False, from_addr="bot@example.com",
                      to=("ops@example.com",), retries=1, timeout_s=1)  # fmt: skip
    error = asyncio.run(deliver(EmailNotifier(cfg), ALERT, backoff_s=0.01))
    assert error is not None and "ConnectionRefusedError" in error

"""The email notifier: one message per alert over SMTP (smtplib, run in a worker thread), with STARTTLS or
implicit TLS when configured and a login whose password comes from the environment."""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
from email.message import EmailMessage

from traderbot.alerts.config import EmailConfig
from traderbot.alerts.model import Alert
from traderbot.alerts.notifier import NotifierError


class EmailNotifier:
    def __init__(self, config: EmailConfig, index: int = 0) -> None:
        self.config = config
        self.timeout_s, self.retries = config.timeout_s, config.retries
        name = f" {config.name}" if config.name else ""
        self.label = f"email[{index}]{name} {config.host}:{config.port} -> {', '.join(config.to)}"

    def message(self, alert: Alert) -> EmailMessage:
        c = self.config
        msg = EmailMessage()
        msg["Subject"] = f"{c.subject_prefix} {alert.severity.value.upper()}: {alert.title}".strip()
        msg["From"] = c.from_addr
        msg["To"] = ", ".join(c.to)
        msg["X-Traderbot-Alert"] = alert.key
        msg.set_content(alert.text())
        return msg

    def _password(self) -> str | None:
        var = self.config.password_env
        if not self.config.username:
            return None
        if not var or not os.environ.get(var):
            raise NotifierError(
                f"environment variable {var or '(password_env unset)'} holding the SMTP password is not set: "
                "name it in password_env and export it"
            )
        return os.environ[var]

    def send_blocking(self, alert: Alert) -> None:
        c = self.config
        password = self._password()
        smtp: smtplib.SMTP
        if c.ssl:
            smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout_s, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)
        with smtp:
            smtp.ehlo()
            if c.starttls and not c.ssl:
                if not smtp.has_extn("starttls"):
                    raise NotifierError(f"{c.host}:{c.port} does not offer STARTTLS: set starttls = false or "
                                        "use the server's TLS port")  # fmt: skip
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if password is not None:
                smtp.login(c.username, password)
            smtp.send_message(self.message(alert))

    async def send(self, alert: Alert) -> None:
        await asyncio.to_thread(self.send_blocking, alert)

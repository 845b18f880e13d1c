"""Alerts: rules over the running service (kill switch, drawdown, paused pairs, invalid caches, a lost broker,
failed training, error spikes) routed to notifiers (webhook, SMTP email, Telegram), de-duplicated and
rate-limited. See docs/alerts.md."""

from traderbot.alerts.config import AlertsSection, EmailConfig, TelegramConfig, WebhookConfig
from traderbot.alerts.model import Alert, Rule, Severity

__all__ = ["Alert", "AlertsSection", "EmailConfig", "Rule", "Severity", "TelegramConfig", "WebhookConfig"]

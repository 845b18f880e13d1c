"""The `[alerts]` section: defaults, notifiers from TOML, and one clear sentence for each bad value."""

from __future__ import annotations

import pytest

from traderbot.config.loader import ConfigError, parse_config

GOOD = """
[alerts]
drawdown_pct = 7.5
cooldown_minutes = 30
max_per_minute = 4
rules = ["kill_switch", "drawdown"]
[[alerts.webhook]]
url = "https://hooks.example.com/tb"
headers = { X-Team = "desk" }
headers_env = { Authorization = "HOOK_AUTH" }
[[alerts.email]]
host = "smtp.example.com"
username = "bot"
password_env = "SMTP_PASSWORD"
from_addr = "bot@example.com"
to = ["ops@example.com"]
[[alerts.telegram]]
chat_id = -1001234
"""


def test_an_empty_file_means_every_rule_and_no_notifier() -> None:
    alerts = parse_config("").alerts
    assert alerts.enabled and len(alerts.rules) == 8 and alerts.notifier_count() == 0
    assert str(alerts.drawdown_pct) == "10" and alerts.cooldown_minutes == 15 and alerts.max_per_minute == 6


def test_notifiers_and_thresholds_are_read_from_toml() -> None:
    a = parse_config(GOOD).alerts
    assert str(a.drawdown_pct) == "7.5" and a.rules == ("kill_switch", "drawdown")
    assert a.webhook[0].headers_env == {"Authorization": "HOOK_AUTH"}
    assert a.email[0].starttls and a.email[0].port == 587 and a.email[0].password_env == "SMTP_PASSWORD"
    assert a.telegram[0].chat_id == "-1001234" and a.telegram[0].base_url == "https://api.telegram.org"
    assert a.telegram[0].token_env == "TELEGRAM_BOT_TOKEN"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[alerts]\nrules = ["kill"]', 'alerts.rules = ["kill"] names unknown rule(s) kill'),
        ("[alerts]\ndrawdown_pct = 0", "alerts.drawdown_pct = 0 must be a percentage above 0 and at most 100"),
        ("[alerts]\ncooldown_minutes = 0", "alerts.cooldown_minutes = 0 must be a number of minutes above 0"),
        ("[alerts]\nmax_per_minute = 0", "alerts.max_per_minute = 0 must be a whole number from 1 to 100000"),
        ('[[alerts.webhook]]\nurl = "hooks.example.com"', "is not an http(s) URL"),
        ('[[alerts.telegram]]\nchat_id = "1"\ntoken_env = "my token"', "is not an environment variable name"),
        ('[[alerts.email]]\nhost = "h"\nfrom_addr = "bot@x.y"\nto = []', "must list email addresses"),
        ('[[alerts.email]]\nhost = "h"\nfrom_addr = "b@x.y"\nto = ["o@x.y"]\npassword = "hunter2"',
         "alerts.email[0].password is not a known setting"),
    ],
)  # fmt: skip
def test_a_bad_value_is_one_sentence_naming_the_field(toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(toml)
    assert message in str(err.value)
    assert "\n" not in str(err.value)

"""`traderbot alerts test`: one line per notifier with its result against real local servers; exit 1 when any
failed, 0 when all were sent; a file without notifiers is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.alerts_harness import Receiver, SmtpServer, free_port

from traderbot.cli import main


def test_every_notifier_gets_the_test_alert_and_a_dead_one_fails_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TB_CLI_TG", "5:KEY")
    dead_port = free_port()
    with Receiver() as hook, Receiver(telegram_token="5:KEY") as tg, SmtpServer() as smtp:
        cfg = tmp_path / "traderbot.toml"
        good = (f'[[alerts.webhook]]\nurl = "{hook.url}/x"\n'
                f'[[alerts.email]]\nhost = "127.0.0.1"\nport = {smtp.port}\nstarttls = false\n'
                'from_addr = "bot@example.com"\nto = ["ops@example.com"]\n'
                f'[[alerts.telegram]]\nbase_url = "{tg.url}"\ntoken_env = "TB_CLI_TG"\nchat_id = "9"\n')  # fmt: skip
        cfg.write_text(good)
        assert main(["alerts", "test", "--config", str(cfg)]) == 0
        out = capsys.readouterr().out.splitlines()
        hook_at = hook.url.removeprefix("http://")
        assert out == [f"webhook[0] {hook_at}: sent", f"email[0] 127.0.0.1:{smtp.port} -> ops@example.com: sent",
                       "telegram[0] chat 9: sent"]  # fmt: skip
        cfg.write_text(good + f'[[alerts.webhook]]\nname = "pager"\nurl = "http://127.0.0.1:{dead_port}"\n'
                       "retries = 0\n")  # fmt: skip
        assert main(["alerts", "test", "--config", str(cfg)]) == 1
        captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 4 and lines[0].endswith(": sent") and lines[2].endswith(": sent")
    assert lines[1].startswith(f"webhook[1] pager 127.0.0.1:{dead_port}: FAILED (ConnectError")
    assert captured.err.strip() == "1 of 4 notifier(s) failed"
    assert [b["rule"] for b in hook.bodies()] == ["test", "test"] and len(tg.requests) == 2
    assert len(smtp.messages) == 2


def test_a_file_without_notifiers_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "traderbot.toml"
    cfg.write_text("[alerts]\ncooldown_minutes = 5\n")
    assert main(["alerts", "test", "--config", str(cfg)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {cfg} configures no notifier: add [[alerts.webhook]], [[alerts.email]] or [[alerts.telegram]]"
    )

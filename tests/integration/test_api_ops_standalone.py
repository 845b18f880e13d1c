"""The operations routes of `traderbot api` served beside the service (no service in this process): the
configuration the service stored, commands nobody answers (503, nothing changed, the file put back), the cache
read from the data folder, and the redaction rules themselves."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select
from tests.api_harness import api_on, as_key, table_counts

from traderbot.api.redact import MASK, is_secret_name, redact, redact_diff_line, redact_text
from traderbot.config.manager import ConfigManager
from traderbot.data import cache_manifest
from traderbot.data.stores import sample_store
from traderbot.store.api_models import ServiceCommandRecord

CONFIG = """\
[service]
mode = "paper"
data_dir = "."
redis_url = "redis://bot:hunter2@127.0.0.1:6379/0"

[[pairs]]
id = "EURUSD"
timeframe = "15m"
strategy = "sma_cross"
"""


def test_redaction_masks_every_secret_looking_name_and_url_password() -> None:
    data = {
        "api_key": "a1", "apiKey": "a2", "smtp_password": "p1", "bot_token": "t1", "client_secret": "s1",
        "credentials": {"user": "u", "pass": "p2"}, "key": "k1", "X-Api-Key": "k2", "Authorization": "Bearer b1",
        "private_key": "pk", "passphrase": "pp", "dsn": "postgresql://u:p3@h/db",
        "hooks": [{"url": "https://u:p4@h.example/x?token=t2&channel=ops&sig=1", "name": "ops"}],
        "author": "alice", "monkey": "banana", "keyboard": "qwerty", "timeframe": "15m", "password_env": "",
        "broker": {"name": "oanda"}, "note": "see redis://:p5@cache:6379/0",
    }  # fmt: skip
    out = redact(data)
    assert not any(s in repr(out) for s in ("a1", "a2", "p1", "t1", "s1", "p2", "k1", "k2", "b1", "pk", "pp",
                                            "p3", "p4", "t2", "p5"))  # fmt: skip
    assert out["credentials"] == MASK and out["dsn"] == MASK and out["Authorization"] == MASK
    assert out["hooks"] == [{"url": "https://u:***@h.example/x?token=***&channel=ops&sig=1", "name": "ops"}]
    assert out["note"] == "see redis://:***@cache:6379/0"
    kept = {k: out[k] for k in ("author", "monkey", "keyboard", "timeframe", "password_env", "broker")}
    assert kept == {"author": "alice", "monkey": "banana", "keyboard": "qwerty", "timeframe": "15m",
                    "password_env": "", "broker": {"name": "oanda"}}  # fmt: skip
    assert is_secret_name("alerts.webhook.headers.X-Auth") and not is_secret_name("max_order_notional")
    assert redact_diff_line('alerts.bot_token: "a" -> "b"') == "alerts.bot_token: *** -> *** (changed)"
    assert redact_diff_line("replay.speed: 60 -> 90") == "replay.speed: 60 -> 90"
    # settings that only sound secret: numbers, and the names of the environment variables secrets come from
    shown = {"failed_auth_limit": 10, "failed_auth_window_s": 300.0, "token_env": "TB_BOT_TOKEN", "auth": "x"}
    assert redact(shown) == {**shown, "auth": MASK}
    assert redact_text("postgresql+psycopg://bot:hunter2@db/tb") == "postgresql+psycopg://bot:***@db/tb"


def test_without_a_service_commands_are_503_and_change_nothing(tmp_path: Path) -> None:
    path = tmp_path / "traderbot.toml"
    path.write_text(CONFIG)
    with api_on(f"sqlite:///{tmp_path / 'traderbot.db'}", command_timeout_s=0.3) as api:
        c, op, admin = api.client, as_key(api.operator), as_key(api.admin)
        # no configuration stored yet: nothing to show, no file to edit
        assert c.get("/api/v1/config", headers=as_key(api.viewer)).json()["source"] == "none"
        r = c.put("/api/v1/config", headers=admin, json={"toml": CONFIG, "reason": "x"})
        assert r.status_code == 409 and "no configuration file is known" in r.json()["error"]["message"]

        ConfigManager(api.engine, path, env={}).start(author="svc")  # what a service stores when it starts
        r = c.get("/api/v1/config", headers=as_key(api.viewer))
        got = r.json()
        assert got["source"] == "database" and got["path"] == str(path.resolve()) and got["version"] == 1
        assert "hunter2" not in r.text and got["config"]["service"]["redis_url"].startswith(
            "redis://bot:***@"
        )
        (v1,) = c.get("/api/v1/config/history", headers=as_key(api.viewer)).json()["versions"]
        assert v1["author"] == "svc" and v1["outcome"] == "applied (start)" and v1["applied"] is True

        before = table_counts(api.engine)
        for route in ("/api/v1/config/reload", "/api/v1/cache/refresh"):
            r = c.post(route, headers=op, json={"reason": "x"})
            assert r.status_code == 503, r.text
            assert r.json()["error"]["message"].startswith(
                "the trading service is not running: no trading service"
            )
        edited = CONFIG.replace('timeframe = "15m"', 'timeframe = "4h"')
        r = c.put("/api/v1/config", headers=admin, json={"toml": edited, "reason": "x"})
        assert r.status_code == 503 and r.json()["error"]["message"].endswith(
            "(the file was put back as it was)"
        )
        assert path.read_text() == CONFIG
        after = table_counts(api.engine)
        with (
            api.engine.connect() as conn
        ):  # each command was sent, then canceled: no service will ever run it
            statuses = conn.execute(select(ServiceCommandRecord.status)).scalars().all()
        assert statuses == ["failed", "failed", "failed"]
        del before["service_commands"], after["service_commands"]
        assert after == before


def test_cache_status_beside_the_service_reads_the_data_folder(tmp_path: Path) -> None:
    store = tmp_path / "store"
    for pair in ("EURUSD", "GBPUSD"):
        (store / pair).mkdir(parents=True)
        shutil.copy(sample_store().path_for(pair, "15m"), store / pair / "15m.parquet")
    cache_manifest.record(store / "EURUSD" / "15m.parquet")
    (store / "GBPUSD" / "15m.parquet").write_bytes(b"PAR1 not really")  # corrupt: checked, never a 500
    with api_on(f"sqlite:///{tmp_path / 'traderbot.db'}") as api:
        for pair in ("EURUSD", "GBPUSD", "USDJPY"):
            r = api.client.post(
                "/api/v1/pairs",
                headers=as_key(api.operator),
                json={"pair": pair, "timeframe": "15m", "strategy": "sma_cross", "reason": "t"},
            )
            assert r.status_code == 201, r.text
        r = api.client.get("/api/v1/cache/status", headers=as_key(api.viewer))
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["store"] == str(store) and got["found_by"] == "the database's folder"
        rows = {row["pair"]: row for row in got["pairs"]}
        assert rows["EURUSD"]["checksum"] == "ok" and rows["EURUSD"]["last_bar"].startswith("2019-06-03")
        assert rows["GBPUSD"]["valid"] is False and rows["GBPUSD"]["reasons"]
        assert rows["USDJPY"]["valid"] is False and "no 15m data for USDJPY" in rows["USDJPY"]["reasons"][0]
        assert all(row["source"] == "data_folder" for row in rows.values()) and got["invalid"] == 3

"""The configuration and cache routes against a real paper service started from a configuration file, the API
on the service's own loop (as `traderbot run` serves it): the active configuration with its secrets redacted,
TOML checked without applying, an admin's edit written atomically and reloaded through the command channel
(refused edits leave the file byte for byte), the version history, and the cache routes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from tests.service_harness import run_service

from traderbot.api.app import create_app
from traderbot.api.keys import KeyStore
from traderbot.api.settings import ApiSettings
from traderbot.data import cache_manifest
from traderbot.data.stores import sample_store
from traderbot.service.from_config import settings_from_file
from traderbot.service.service import TradingService
from traderbot.store.config_models import ConfigVersionRecord
from traderbot.store.db import open_engine

SECRETS = ("hunter2", "abc123", "s3cr3t", "k3yv4lue")
CONFIG = """\
[service]
mode = "paper"
data_dir = "state"

[replay]
speed = "600"

[[pairs]]
id = "EURUSD"
timeframe = "15m"
strategy = "sma_cross"
params = { fast = 5, slow = 20 }

[[alerts.webhook]]
url = "http://ops:hunter2@127.0.0.1:9/hook?token=abc123&channel=ops"
headers = { Authorization = "Bearer s3cr3t", "X-Api-Key" = "k3yv4lue", "X-Team" = "desk" }
"""


def _versions(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ConfigVersionRecord)).scalar_one())


def _error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    message: str = r.json()["error"]["message"]
    assert message and "Traceback" not in message
    return message


def test_config_and_cache_routes_on_a_running_service(tmp_path: Path) -> None:
    path = tmp_path / "traderbot.toml"
    path.write_text(CONFIG)
    service = TradingService(settings_from_file(path))
    store = (
        tmp_path / "state" / "store" / "EURUSD"
    )  # the data folder's market-data cache: one series, recorded
    store.mkdir(parents=True)
    shutil.copy(sample_store().path_for("EURUSD", "15m"), store / "15m.parquet")
    cache_manifest.record(store / "15m.parquet")

    async def body() -> None:
        engine = open_engine(f"sqlite:///{tmp_path / 'state' / 'traderbot.db'}")
        keys = KeyStore(engine, "TB")
        admin, oper, view = (
            {"X-API-Key": keys.create(r, f"{r}-desk")[1]} for r in ("admin", "operator", "viewer")
        )
        app = create_app(engine, "TB", settings=ApiSettings(command_timeout_s=4), service=service)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
                await _scenario(c, service, path, engine, admin, oper, view)
        finally:
            engine.dispose()

    run_service(service, body)


async def _scenario(
    c: httpx.AsyncClient,
    service: TradingService,
    path: Path,
    engine: Any,
    admin: dict[str, str],
    oper: dict[str, str],
    view: dict[str, str],
) -> None:
    # the active configuration: the service's, every secret redacted, the rest shown
    r = await c.get("/api/v1/config", headers=view)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["source"] == "service" and got["path"] == str(path) and got["version"] == 1
    assert not any(secret in r.text for secret in SECRETS)
    hook = got["config"]["alerts"]["webhook"][0]
    assert hook["url"] == "http://ops:***@127.0.0.1:9/hook?token=***&channel=ops"
    assert hook["headers"] == {"Authorization": "***", "X-Api-Key": "***", "X-Team": "desk"}
    assert got["config"]["pairs"][0]["params"] == {"fast": 5, "slow": 20}

    # checked without applying: every field error (422), or what would change
    bad = CONFIG.replace('speed = "600"', 'speed = "fast"').replace('timeframe = "15m"', 'timeframe = "7q"')
    r = await c.post("/api/v1/config/validate", headers=oper, json={"toml": bad})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_config"
    errors = r.json()["error"]["errors"]
    assert len(errors) == 2 and any("replay.speed" in e for e in errors)
    assert any(e.startswith("the TOML text line 10: pairs[0].timeframe") for e in errors)
    edited = CONFIG.replace('speed = "600"', 'speed = "900"')
    r = await c.post("/api/v1/config/validate", headers=oper, json={"toml": edited})
    assert r.json() == {"valid": True, "changes": ['replay.speed: "600" -> "900"'], "restart_needed": []}
    assert path.read_text() == CONFIG

    # refused edits: nothing written, no version stored
    before, versions = path.read_bytes(), _versions(engine)
    refusals = [
        ({"toml": "[service\n", "reason": "x"}, 422, "line 1, column 9: not valid TOML"),
        ({"toml": bad, "reason": "x"}, 422, "replay.speed"),
        (
            {"toml": edited.replace('data_dir = "state"', 'data_dir = "elsewhere"'), "reason": "x"},
            409,
            "service.data_dir changed, which needs a restart: nothing was written",
        ),
        ({"toml": edited.replace("Bearer s3cr3t", "***"), "reason": "x"}, 422, "holds a redacted secret"),
        ({"toml": edited}, 422, "body.reason: Field required"),
        ({"toml": 5, "reason": "x"}, 422, "body.toml: Input should be a valid string"),
    ]
    for sent, status, text in refusals:
        assert text in _error(await c.put("/api/v1/config", headers=admin, json=sent), status)
    assert _error(await c.put("/api/v1/config", headers=oper, json={"toml": edited, "reason": "x"}), 403)
    assert path.read_bytes() == before and _versions(engine) == versions

    # an admin's edit: written, reloaded by the service, stored as a version with its author and diff
    r = await c.put("/api/v1/config", headers=admin, json={"toml": edited, "reason": "faster replay"})
    assert r.status_code == 200, r.text
    assert r.json()["applied"] is True and r.json()["outcome"] == "applied"
    assert path.read_text() == edited and (path.parent / "traderbot.toml.bak").read_text() == CONFIG
    assert service.config is not None and service.config.current.replay.speed == "900"
    r = await c.get("/api/v1/config/history", headers=view)
    newest = r.json()["versions"][0]
    assert newest["applied"] and newest["diff"] == ['replay.speed: "600" -> "900"']
    assert newest["author"] in ("api:admin-desk", "file watcher")  # the watcher may see the save first
    assert (await c.get("/api/v1/config", headers=view)).json()["version"] == newest["version"]

    # a reload through the command channel: the file did not change since
    r = await c.post("/api/v1/config/reload", headers=oper, json={"reason": "check"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done" and r.json()["result"]["outcome"] == "unchanged"

    # the cache: paper mode runs no cache job, so a refresh is refused by the service; the status is read from
    # the data folder's cache (the sample series: recorded, but its last bar is years old)
    message = _error(await c.post("/api/v1/cache/refresh", headers=oper, json={"reason": "now"}), 409)
    assert "no market-data cache job runs" in message
    r = await c.get("/api/v1/cache/status", headers=view)
    assert r.status_code == 200, r.text
    (row,) = r.json()["pairs"]
    assert r.json()["found_by"] == "the running service"
    assert row["pair"] == "EURUSD" and row["source"] == "data_folder" and row["checksum"] == "ok"
    assert row["valid"] is False and row["last_bar"].startswith("2019-06-03T22:15")
    assert row["reasons"] and 0 <= row["score"] < 100

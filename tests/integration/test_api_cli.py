"""`traderbot keys create|list|revoke` and `traderbot api` (a real uvicorn on a free port, then stopped)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from traderbot.api.keys import KeyStore
from traderbot.cli import main
from traderbot.store.db import open_engine


def test_keys_create_list_and_revoke(any_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--role", "operator", "--name", "desk", "--db", any_db_url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "created API key 1 (desk, operator); store it now, it is not shown again:"
    key = out[1]
    engine = open_engine(any_db_url)
    assert KeyStore(engine, "TB").verify(key).name == "desk"
    assert main(["keys", "list", "--db", any_db_url, "--json"]) == 0
    listed = capsys.readouterr().out
    assert key.split("_")[-1] not in listed
    assert [(k["id"], k["name"], k["role"], k["revoked"]) for k in json.loads(listed)] == [
        (1, "desk", "operator", None)
    ]
    assert main(["keys", "list", "--db", any_db_url]) == 0
    assert "desk" in capsys.readouterr().out
    assert main(["keys", "revoke", "1", "--db", any_db_url]) == 0
    assert capsys.readouterr().out == "revoked API key 1 (desk, operator)\n"
    assert main(["keys", "revoke", "1", "--db", any_db_url]) == 2
    assert "was already revoked on" in capsys.readouterr().err
    assert main(["keys", "create", "--role", "boss", "--db", any_db_url]) == 2
    assert capsys.readouterr().err == "error: unknown role 'boss': use viewer, operator or admin\n"
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(tmp_path: Path, port: int) -> tuple[subprocess.Popen[str], list[str]]:
    """`traderbot api` in a process of its own; returns it and its output up to the line saying it serves."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "traderbot.cli", "api", "--port", str(port), "--db",
           f"sqlite:///{tmp_path / 'api.db'}"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    assert proc.stdout is not None
    while not lines or not lines[-1].startswith("traderbot API on"):
        line = proc.stdout.readline()
        assert line, f"traderbot api ended early: {lines}"
        lines.append(line.rstrip("\n"))
    return proc, lines


def _healthy(port: int, timeout: float = 5.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_api_serves_on_loopback_prints_the_first_admin_key_once_and_stops(tmp_path: Path) -> None:
    port = _free_port()
    proc, lines = _start(tmp_path, port)
    try:
        assert lines[0] == "first start: created an admin API key; store it now, it is not shown again:"
        admin = lines[1]
        assert lines[2].startswith(f"traderbot API on http://127.0.0.1:{port} (docs at /docs)")
        r = _healthy(port)
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        who = httpx.get(f"http://127.0.0.1:{port}/api/v1/auth/whoami", headers={"X-API-Key": admin})
        assert who.json()["role"] == "admin"
        assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) in (
            0,
            -signal.SIGTERM,
        )  # uvicorn shuts down, then re-raises the signal it caught


def test_api_on_a_database_with_keys_prints_no_key(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'api.db'}")
    KeyStore(engine, "TB").create("admin", "mine")  # a later start, or keys made with the CLI first
    engine.dispose()
    proc, lines = _start(tmp_path, _free_port())
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    assert len(lines) == 1 and lines[0].startswith("traderbot API on")

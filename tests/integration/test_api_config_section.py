"""The `[api]` section of traderbot.toml: read by `traderbot run` (the service serves its API with it) and
`traderbot api` (--config, else ./traderbot.toml); command-line flags win; bad values are one sentence and exit 2;
a changed section needs a restart (the reload is refused, nothing applied)."""

from __future__ import annotations

import asyncio
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
from traderbot.api.settings import ApiSettings
from traderbot.cli import main
from traderbot.config import ConfigManager
from traderbot.service.api_server import ApiServer
from traderbot.service.from_config import settings_from_file
from traderbot.store.db import open_engine

SECTION = """
[api]
cors_origins = ["https://ops.example.com"]
max_body_bytes = 2048
rate_per_s = 5
burst = 7
session_ttl_s = 120
failed_auth_limit = 2
failed_auth_window_s = 30
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write(tmp_path: Path, text: str, name: str = "traderbot.toml") -> Path:
    path = tmp_path / name
    path.write_text(f'[service]\ndata_dir = "{tmp_path / "state"}"\n' + text)
    return path


def test_the_section_becomes_the_services_api_settings(tmp_path: Path) -> None:
    s = settings_from_file(_write(tmp_path, SECTION))
    assert (s.api_host, s.api_port) == ("127.0.0.1", 8000)  # no host/port in [api]: [service]'s
    assert s.api == ApiSettings(host="127.0.0.1", port=8000, cors_origins=("https://ops.example.com",),
                                max_body_bytes=2048, rate_per_s=5.0, burst=7, token_ttl_s=120,
                                failed_auth_limit=2, failed_auth_window_s=30.0)  # fmt: skip
    s = settings_from_file(_write(tmp_path, '[api]\nhost = "::1"\nport = 9123\n', "other.toml"))
    assert (s.api_host, s.api_port, s.api.host, s.api.port) == ("::1", 9123, "::1", 9123)
    assert s.api.max_body_bytes == 64 * 1024 and s.api.failed_auth_limit == 10  # the safe defaults


def test_the_service_serves_its_api_with_the_sections_limits(tmp_path: Path) -> None:
    s = settings_from_file(_write(tmp_path, SECTION))
    engine = open_engine(f"sqlite:///{tmp_path / 'api.db'}")
    _, key = KeyStore(engine, "TB").create("viewer", "desk")

    async def scenario() -> None:
        server = ApiServer(engine, "TB", "127.0.0.1", 0, settings=s.api)  # --port 0 won over the file's 8000
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=server.url) as c:
                big = await c.post("/api/v1/pairs", headers={"X-API-Key": key}, content=b"x" * 3000)
                assert big.status_code == 413 and "larger than the 2 KiB" in big.json()["error"]["message"]
                token = await c.post("/api/v1/auth/token", headers={"X-API-Key": key})
                assert token.json()["expires_in"] == 120
                pre = await c.options("/api/v1/pairs", headers={"Origin": "https://ops.example.com",
                                                                 "Access-Control-Request-Method": "GET"})  # fmt: skip
                assert pre.headers["access-control-allow-origin"] == "https://ops.example.com"
                codes = [(await c.get("/api/v1/pairs", headers={"X-API-Key": "tb_9_x"})).status_code
                         for _ in range(3)]  # fmt: skip
                assert codes == [401, 401, 429]
                codes = [
                    (await c.get("/api/v1/pairs", headers={"X-API-Key": key})).status_code for _ in range(9)
                ]
                assert codes.count(429) >= 1  # burst 7 at 5 a second
        finally:
            await server.stop()

    asyncio.run(scenario())
    engine.dispose()


def _serve(args: list[str], cwd: Path) -> tuple[subprocess.Popen[str], list[str]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("TRADERBOT_CONFIG", None)
    env.pop("TRADERBOT_DB_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "traderbot.cli", "api", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lines: list[str] = []
    assert proc.stdout is not None
    while not lines or not lines[-1].startswith("traderbot API on"):
        line = proc.stdout.readline()
        assert line, f"traderbot api ended early: {lines}"
        lines.append(line.rstrip("\n"))
    url = lines[-1].split()[3]
    deadline = time.monotonic() + 10
    while True:  # the line is printed just before uvicorn binds
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            return proc, lines
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"traderbot api does not answer on {url}"
            time.sleep(0.05)


def test_traderbot_api_reads_the_working_folders_file_and_its_flags_win(tmp_path: Path) -> None:
    file_port, flag_port = _free_port(), _free_port()
    _write(tmp_path, SECTION + f"port = {file_port}\n")
    proc, lines = _serve(["--port", str(flag_port)], tmp_path)  # ./traderbot.toml, found as `run` finds it
    try:
        assert lines[-1].startswith(
            f"traderbot API on http://127.0.0.1:{flag_port} (docs at /docs), database "
        )
        assert str(tmp_path / "state" / "traderbot.db") in lines[-1]  # the file's database
        base = f"http://127.0.0.1:{flag_port}"
        big = httpx.post(f"{base}/api/v1/pairs", content=b"x" * 3000, headers={"X-API-Key": lines[1]})
        assert big.status_code == 413
        codes = [
            httpx.get(f"{base}/api/v1/pairs", headers={"X-API-Key": "tb_5_no"}).status_code for _ in range(3)
        ]
        assert codes == [401, 401, 429]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def test_traderbot_api_serves_on_the_files_port_given_with_config(tmp_path: Path) -> None:
    port = _free_port()
    path = _write(tmp_path, f"[api]\nport = {port}\nsession_ttl_s = 300\n", "elsewhere.toml")
    proc, lines = _serve(["--config", str(path)], tmp_path)
    try:
        assert lines[-1].startswith(f"traderbot API on http://127.0.0.1:{port} ")
        token = httpx.post(f"http://127.0.0.1:{port}/api/v1/auth/token", headers={"X-API-Key": lines[1]})
        assert token.json()["expires_in"] == 300
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("[api]\nport = 70000\n", "line 4: api.port = 70000 is not a TCP port (use 1..65535, e.g. 8000)"),
        ('[api]\ncors_origins = ["*"]\n', "line 4: api.cors_origins = [\"*\"] has '*', not an origin (use scheme "
                                          'and host, e.g. "https://ops.example.com")'),
        ("[api]\nrate_per_s = 0\n", "line 4: api.rate_per_s = 0 must be a number of calls a second above 0 and "
                                    "at most 100000 (e.g. 20)"),
        ("[api]\nsession_ttl_s = 10\n", "line 4: api.session_ttl_s = 10 must be between 60 and 86400 seconds"),
        ("[api]\nfailed_auth_limit = 0\n", "line 4: api.failed_auth_limit = 0 must be a number of failures"),
        ("[api]\nmax_body = 5\n", "line 4: api.max_body is not a known setting; valid keys in [api] are: host"),
    ],
)  # fmt: skip
def test_bad_api_values_are_one_sentence_and_exit_2(
    tmp_path: Path, section: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, section)
    for command in (["api", "--config", str(path)], ["run", "--config", str(path), "--no-api"]):
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert err.startswith(f"error: {path} {message}") and err.count("\n") == 1, (command, err)
    assert not (tmp_path / "state").exists()  # refused before anything was created


def test_a_changed_api_section_needs_a_restart(tmp_path: Path) -> None:
    path = _write(tmp_path, SECTION)
    engine = open_engine(f"sqlite:///{tmp_path / 'cfg.db'}")
    manager = ConfigManager(engine, path)
    manager.start()
    path.write_text(path.read_text().replace("rate_per_s = 5", "rate_per_s = 50"))
    result = manager.reload()
    assert not result.applied
    assert result.outcome == "refused: api.rate_per_s needs a restart (nothing applied)"
    assert manager.current.api.rate_per_s == 5.0
    engine.dispose()

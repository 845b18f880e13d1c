"""`traderbot run` serves the control-plane API itself: first-start admin key shown once, the kill switch sent
through the API reaches the running service's kernel (command channel) and everything goes flat; a busy port is
one sentence and a non-zero exit before anything trades."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests.service_harness import lines_until

ROOT = Path(__file__).resolve().parents[2]


def _start(cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen([sys.executable, "-m", "traderbot.cli", "run", "--quiet", *args], cwd=cwd, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def test_the_service_serves_the_api_and_obeys_its_kill_switch(tmp_path: Path) -> None:
    proc = _start(tmp_path, "--port", "0", "--speed", "3000")
    try:
        lines = lines_until(proc, r"API and dashboard on http://")
        url = re.search(r"on (http://\S+) ", lines[-1])
        assert url is not None, lines
        base = url.group(1)
        key_line = lines.index("first start: created an admin API key; store it now, it is not shown again:")
        key = lines[key_line + 1]
        assert key.startswith("tb_")
        head = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/healthz").status_code == 200
            assert http.get("/api/v1/pairs").status_code == 401  # no credentials
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # the five demo pairs start trading
                pairs = http.get("/api/v1/pairs", headers=head).json()
                rows = pairs if isinstance(pairs, list) else pairs.get("pairs", [])
                if sum(1 for r in rows if r.get("state") == "trading") == 5:
                    break
                time.sleep(0.2)
            else:
                raise AssertionError(f"the pairs never traded: {pairs}")
            r = http.post(
                "/api/v1/risk/kill-switch", headers=head, json={"reason": "api test", "flatten": True}
            )
            assert r.status_code == 200, r.text
            assert r.json()["result"]["engaged"] is True
            again = http.post(
                "/api/v1/risk/kill-switch", headers=head, json={"reason": "twice", "flatten": False}
            )
            assert again.status_code < 500, again.text
            r = http.post("/api/v1/risk/rearm", headers=head, json={"reason": "api test over"})
            assert r.status_code == 200, r.text
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "stopped:" in out
    finally:
        if proc.poll() is None:
            proc.kill()
    again = _start(tmp_path, "--port", "0", "--speed", "max", "--exit-at-end")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert (
        "first start" not in out and "tb_" not in out
    )  # the admin key is shown once, on the first start only


def test_a_busy_port_is_refused_before_anything_trades(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = _start(tmp_path, "--port", str(port), "--speed", "max", "--exit-at-end")
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out, err)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"cannot serve the API on 127.0.0.1:{port}" in errors[0], err
    assert "--no-api" in errors[0] and "Traceback" not in err

"""`traderbot run` as an operator starts it: prints where its state lives, stops cleanly on SIGTERM, resumes on the
next start, and refuses a corrupt database with one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start(cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    args = ("--port", "0", *args)  # the API on any free port: tests never fight over 8000
    return subprocess.Popen([sys.executable, "-m", "traderbot.cli", "run", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def test_sigterm_stops_cleanly_and_the_next_start_resumes(tmp_path: Path) -> None:
    proc = start(tmp_path, "--speed", "6000", "--quiet")
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert "state in" in first and "traderbot_data" in first and "Stop with Ctrl-C" in first
    state = tmp_path / "traderbot_data"
    deadline = time.monotonic() + 30
    while not (state / "replay.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped:" in out and not (state / "service.pid").exists()
    stopped_at = json.loads((state / "replay.json").read_text())["now_ns"]
    again = start(tmp_path, "--speed", "max", "--exit-at-end", "--quiet")
    _, err2 = again.communicate(timeout=120)
    assert again.returncode == 0, err2
    assert json.loads((state / "replay.json").read_text())["now_ns"] > stopped_at  # it went on from there
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("TRADERBOT_DB_URL", None)
    listing = subprocess.run([sys.executable, "-m", "traderbot.cli", "pairs", "--json"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert listing.returncode == 0, listing.stderr  # the CLI finds the service's database without --db
    assert {"EURUSD", "GBPUSD"} <= {row["pair"] for row in json.loads(listing.stdout)}


def test_a_corrupt_database_is_refused_with_one_line(tmp_path: Path) -> None:
    state = tmp_path / "traderbot_data"
    state.mkdir()
    (state / "traderbot.db").write_bytes(b"this is not a database" * 100)
    proc = start(tmp_path, "--speed", "max", "--exit-at-end")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "traderbot.db" in lines[0] and "Traceback" not in err

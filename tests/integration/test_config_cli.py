"""`traderbot init` and `traderbot config ...` against real files and a real SQLite database."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from traderbot.cli import main
from traderbot.config.loader import load_config
from traderbot.config.manager import ConfigManager
from traderbot.store.db import open_engine


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRADERBOT_CONFIG", "TRADERBOT__SERVICE__PORT", "TRADERBOT__SERVICE__DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_init_writes_a_starter_file_from_flags_and_refuses_to_overwrite(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "traderbot.toml"
    code, out, err = _run(capsys, "init", "--path", str(path), "--broker", "oanda", "--currency", "EUR",
                          "--pairs", "EURUSD,GBPUSD", "--max-position-notional", "50000", "--yes")  # fmt: skip
    assert code == 0, err
    assert "wrote" in out and "2 pairs (EURUSD 15m sma_cross, GBPUSD 15m sma_cross)" in out
    cfg = load_config(path, env={})
    assert cfg.broker.name == "oanda" and cfg.account.currency == "EUR"
    assert str(cfg.risk.limits.max_position_notional) == "50000"
    path.write_text(path.read_text() + "# my edit\n")
    code, _, err = _run(capsys, "init", "--path", str(path), "--yes")
    assert code == 2 and "already exists: pass --force" in err and err.count("\n") == 1
    assert path.read_text().endswith("# my edit\n")
    code, _, err = _run(capsys, "init", "--path", str(path), "--yes", "--force")
    assert code == 0, err
    assert (tmp_path / "traderbot.toml.bak").read_text().endswith("# my edit\n")
    assert [p.id for p in load_config(path, env={}).pairs] == ["EURUSD"]
    code, _, err = _run(capsys, "init", "--path", str(tmp_path / "x.toml"), "--pairs", "NOPE", "--yes")
    assert code == 2 and 'pairs[0].id = "NOPE" is not a known instrument' in err
    assert not (tmp_path / "x.toml").exists()


def test_validate_exit_codes_and_the_one_line_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "traderbot.toml"
    assert _run(capsys, "init", "--path", str(path), "--yes")[0] == 0
    code, out, _ = _run(capsys, "config", "validate", str(path))
    assert code == 0 and out.startswith(f"valid: {path}: paper mode, 1 pair (EURUSD 15m sma_cross)")
    path.write_text(path.read_text().replace('timeframe = "15m"', 'timeframe = "7q"'))
    code, out, err = _run(capsys, "config", "validate", str(path))
    assert code == 2 and out == ""
    assert err.startswith(f"error: {path} line ") and 'pairs[0].timeframe = "7q" is not a timeframe' in err
    assert err.count("\n") == 1
    code, _, err = _run(capsys, "config", "validate", str(tmp_path / "missing.toml"))
    assert code == 2 and "not found" in err


def test_show_applies_env_overrides_and_masks_secrets(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "traderbot.toml"
    path.write_text('[training]\nray_address = "ray://op:t0ps3cret@head:10001"\n')
    monkeypatch.setenv("TRADERBOT__SERVICE__DATABASE_URL", "postgresql+psycopg://bot:hunter2@db/tb")
    monkeypatch.setenv("TRADERBOT__SERVICE__PORT", "9191")
    monkeypatch.setenv("TRADERBOT_CONFIG", str(path))
    code, out, err = _run(capsys, "config", "show", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["service"]["port"] == 9191
    assert data["service"]["database_url"] == "postgresql+psycopg://bot:***@db/tb"
    assert "hunter2" not in out and "t0ps3cret" not in out
    code, out, _ = _run(capsys, "config", "show")
    assert code == 0 and "port = 9191" in out and "hunter2" not in out and "[risk.limits]" in out


def _started(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "traderbot.toml"
    path.write_text("[service]\nport = 8080\n[risk.limits]\nmax_order_notional = 2000000\n")
    db = f"sqlite:///{tmp_path / 'tb.db'}"
    m = ConfigManager(open_engine(db), path, author_default="svc", env={})
    m.start()
    path.write_text("[service]\nport = 8080\n[risk.limits]\nmax_order_notional = 1000000\n")
    assert m.reload(author="alice").applied
    return path, db


def test_diff_history_and_rollback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path, db = _started(tmp_path)
    code, out, _ = _run(capsys, "config", "diff", str(path), "--db", db)
    assert code == 0 and out.strip() == "no changes: " + str(path) + " matches version 2"
    path.write_text("[service]\nport = 8181\n[risk.limits]\nmax_order_notional = 1000000\n")
    code, out, _ = _run(capsys, "config", "diff", str(path), "--db", db)
    assert code == 0 and out.strip() == "service.port: 8080 -> 8181"
    code, out, err = _run(capsys, "config", "history", "--db", db, "--json", "--file", str(path))
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["version"], r["author"], r["outcome"]) for r in rows] == [
        (2, "alice", "applied"), (1, "svc", "applied (start)")
    ]  # fmt: skip
    assert rows[0]["diff"] == ["risk.limits.max_order_notional: 2000000 -> 1000000"]
    code, out, _ = _run(capsys, "config", "history", "--db", db, "--file", str(path))
    assert code == 0 and "applied (start)" in out
    code, out, err = _run(
        capsys, "config", "rollback", "1", "--db", db, "--author", "carol", "--file", str(path)
    )
    assert code == 0, err
    assert "version 1 written" in out and "applied (rollback to version 1)" in out
    assert "risk.limits.max_order_notional: 1000000 -> 2000000" in out
    assert load_config(path, env={}).risk.limits.max_order_notional == 2000000
    assert (tmp_path / "traderbot.toml.bak").read_text().startswith("[service]\nport = 8181")
    latest = json.loads(_run(capsys, "config", "history", "--db", db, "--json", "--file", str(path))[1])[0]
    assert (latest["version"], latest["author"]) == (3, "carol")
    code, _, err = _run(capsys, "config", "rollback", "42", "--db", db, "--file", str(path))
    assert code == 2 and "no config version 42" in err


def test_reload_without_a_running_service(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path, db = _started(tmp_path)
    data_dir = tmp_path / "traderbot_data"
    data_dir.mkdir()
    (data_dir / "service.pid").write_text("999999999\n")  # stale: no such process
    code, out, err = _run(capsys, "config", "reload", str(path), "--db", db)
    assert code == 0, err
    assert out.startswith("no service is running") and "is valid" in out
    assert "no changes against the last applied version" in out
    path.write_text("[service]\nport = 0\n")
    code, out, err = _run(capsys, "config", "reload", str(path), "--db", db)
    assert code == 2 and "service.port = 0 is not a TCP port" in err


def test_reading_commands_never_create_a_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "traderbot.toml"
    path.write_text("")
    code, out, _ = _run(capsys, "config", "history", "--file", str(path))
    assert code == 0 and out.startswith("no configuration versions stored yet")
    code, out, _ = _run(capsys, "config", "diff", str(path))
    assert code == 0 and "no applied version stored yet" in out
    code, _, err = _run(capsys, "config", "rollback", "1", "--file", str(path))
    assert code == 2 and "nothing to roll back to" in err
    assert not (tmp_path / "traderbot_data").exists()


def test_reload_signals_a_running_service(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "traderbot.toml"
    path.write_text("")
    flag = tmp_path / "got_hup"
    code = (
        "import pathlib, signal, sys, time\n"
        f"signal.signal(signal.SIGHUP, lambda *a: pathlib.Path({str(flag)!r}).write_text('hup'))\n"
        "print('ready', flush=True)\n"
        "time.sleep(10)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        (tmp_path / "traderbot_data").mkdir()
        (tmp_path / "traderbot_data" / "service.pid").write_text(f"{proc.pid}\n")
        rc, out, err = _run(capsys, "config", "reload", str(path))
        assert rc == 0, err
        assert out.startswith(f"sent SIGHUP to the service (pid {proc.pid})")
        deadline = time.monotonic() + 5
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert flag.read_text() == "hup"
    finally:
        proc.kill()
        proc.wait()

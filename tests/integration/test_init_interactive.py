"""`traderbot init` in a terminal: it asks its questions (broker, currency, pairs, risk limit) on a real pty."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from traderbot.config.loader import load_config


def _read_until(fd: int, text: str, seen: list[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in "".join(seen):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {text!r} on the terminal; it showed: {''.join(seen)!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                raise AssertionError(f"the terminal closed before {text!r}; it showed: {''.join(seen)!r}")
            seen.append(chunk.decode(errors="replace"))


def _init_in_a_terminal(path: Path, answers: list[tuple[str, str]]) -> tuple[int, str]:
    master, slave = os.openpty()
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "200"}
    env.pop("TRADERBOT_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "traderbot.cli", "init", "--path", str(path)],
                            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)  # fmt: skip
    os.close(slave)
    seen: list[str] = []
    try:
        for prompt, answer in answers:
            _read_until(master, prompt, seen)
            seen.clear()
            os.write(master, answer.encode() + b"\r")
        code = proc.wait(timeout=60)
        while True:  # what it printed after the last answer
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen.append(chunk.decode(errors="replace"))
    finally:
        proc.kill()
        os.close(master)
    return code, "".join(seen)


def test_init_asks_in_a_terminal_and_writes_the_answers(tmp_path: Path) -> None:
    path = tmp_path / "traderbot.toml"
    code, out = _init_in_a_terminal(path, [
        ("Live broker", "oanda"),
        ("Account currency", "eur"),
        ("Pairs to trade", "EURUSD, GBPUSD ,USDJPY"),
        ("Largest position per pair", "250000"),
    ])  # fmt: skip
    assert code == 0, out
    assert f"wrote {path}" in out and "3 pairs" in out
    config = load_config(path, env={})
    assert config.broker.name == "oanda"
    assert config.account.currency == "EUR"
    assert [p.id for p in config.pairs] == ["EURUSD", "GBPUSD", "USDJPY"]
    assert str(config.risk.limits.max_position_notional) == "250000"


def test_init_in_a_terminal_takes_the_defaults_on_empty_answers(tmp_path: Path) -> None:
    path = tmp_path / "traderbot.toml"
    code, out = _init_in_a_terminal(path, [
        ("Live broker", ""), ("Account currency", ""), ("Pairs to trade", ""), ("Largest position per pair", ""),
    ])  # fmt: skip
    assert code == 0, out
    config = load_config(path, env={})
    assert config.broker.name == "" and config.service.mode == "paper"
    assert config.account.currency == "USD"
    assert [p.id for p in config.pairs] == ["EURUSD"]


def test_a_bad_answer_is_one_sentence_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "traderbot.toml"
    code, out = _init_in_a_terminal(path, [
        ("Live broker", "oanda"), ("Account currency", "USD"), ("Pairs to trade", "EURUSD"),
        ("Largest position per pair", "lots"),
    ])  # fmt: skip
    assert code == 2, out
    assert "--max-position-notional 'lots' is not a positive amount; use e.g. 100000" in out
    assert not path.exists()

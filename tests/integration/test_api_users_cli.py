"""`traderbot users create|list|disable|passwd`: the password asked twice on a terminal (a real pty) or read from
stdin; the users then log in through the API; bad input is one line and exit 2."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from traderbot.api.app import create_app
from traderbot.api.settings import ApiSettings
from traderbot.api.users import UserStore
from traderbot.cli import main
from traderbot.store.db import open_engine

PASSWORD = "correct horse battery"


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def _on_a_terminal(args: list[str], answers: list[str], cwd: Path) -> tuple[int, str]:
    """Run `traderbot <args>` on a pseudo-terminal, typing each answer after a prompt; its exit code and output."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI, with the pty as its controlling terminal
        os.chdir(cwd)
        os.execv(sys.executable, [sys.executable, "-m", "traderbot.cli", *args])
    output, pending, deadline = b"", list(answers), time.monotonic() + 30
    answered = 0  # where the output stood at the last answer: only a prompt after it is answered
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if pending and output[answered:].rstrip().endswith(b":"):
                os.write(fd, pending.pop(0).encode() + b"\n")
                answered = len(output)
    else:  # still running at the deadline: stop it, and the test fails on its exit code
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace").replace("\r\n", "\n")


def test_users_create_list_disable_and_passwd_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'users.db'}"
    _stdin(monkeypatch, PASSWORD + "\n")
    assert main(["users", "create", "alice", "--role", "operator", "--password-stdin", "--db", db]) == 0
    assert capsys.readouterr().out == (
        "created user alice (operator); they log in with POST /api/v1/auth/login\n"
    )
    assert main(["users", "list", "--db", db, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(u["username"], u["role"], u["disabled"]) for u in listed] == [("alice", "operator", None)]
    assert main(["users", "list", "--db", db]) == 0
    assert "alice" in capsys.readouterr().out
    engine = open_engine(db)
    with TestClient(create_app(engine, "TB")) as client:
        login = {"username": "alice", "password": PASSWORD}
        token = client.post("/api/v1/auth/login", json=login).json()["token"]
        assert client.get("/api/v1/pairs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        _stdin(monkeypatch, "a brand new password\n")
        assert main(["users", "passwd", "alice", "--password-stdin", "--db", db]) == 0
        assert capsys.readouterr().out == "changed the password of alice; their older tokens no longer work\n"
        _refused_within_the_auth_cache(client, token)
        assert client.post("/api/v1/auth/login", json=login).status_code == 401
        login["password"] = "a brand new password"
        token = client.post("/api/v1/auth/login", json=login).json()["token"]
        assert main(["users", "disable", "alice", "--db", db]) == 0
        assert capsys.readouterr().out == "disabled user alice (operator)\n"
        _refused_within_the_auth_cache(client, token)
    engine.dispose()


def _refused_within_the_auth_cache(client: TestClient, token: str) -> None:
    """A change made by another process (the CLI) reaches a running API within `auth_cache_s` (a credential
    found good is remembered that long): refused by then, and for good."""
    head = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + ApiSettings().auth_cache_s + 0.5
    while client.get("/api/v1/pairs", headers=head).status_code == 200:
        assert time.monotonic() < deadline, "the old token still works after auth_cache_s"
        time.sleep(0.05)
    assert client.get("/api/v1/pairs", headers=head).status_code == 401


def test_users_cli_refuses_bad_input_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'users.db'}"
    _stdin(monkeypatch, PASSWORD + "\n")
    assert main(["users", "create", "alice", "--role", "viewer", "--password-stdin", "--db", db]) == 0
    capsys.readouterr()
    cases = [
        (["users", "create", "alice", "--role", "viewer", "--password-stdin"], PASSWORD,
         "error: user 'alice' already exists: pick another name, or change the password with "
         "`traderbot users passwd alice`"),
        (["users", "create", "bob", "--role", "boss", "--password-stdin"], PASSWORD,
         "error: unknown role 'boss': use viewer, operator or admin"),
        (["users", "create", "bad name", "--role", "viewer", "--password-stdin"], PASSWORD,
         "error: username 'bad name' is not allowed: use 1 to 64 letters, digits, '.', '_', '-' or '@', "
         "starting with a letter or digit"),
        (["users", "create", "bob", "--role", "viewer", "--password-stdin"], "short",
         "error: the password is too short: use at least 8 characters"),
        (["users", "create", "bob", "--role", "viewer", "--password-stdin"], "",
         "error: --password-stdin read no password: pipe it in, e.g. `printf '%s\\n' \"$PW\" | ...`"),
        (["users", "create", "bob", "--role", "viewer"], "",
         "error: no terminal to ask the password on: pass --password-stdin and pipe the password in"),
        (["users", "disable", "nobody"], "", "error: no user 'nobody': see `traderbot users list`"),
        (["users", "passwd", "nobody", "--password-stdin"], PASSWORD,
         "error: no user 'nobody': see `traderbot users list`"),
    ]  # fmt: skip
    for args, stdin, message in cases:
        _stdin(monkeypatch, stdin + "\n" if stdin else "")
        assert main([*args, "--db", db]) == 2, args
        assert capsys.readouterr().err == message + "\n", args
    assert main(["users", "disable", "alice", "--db", db]) == 0
    assert main(["users", "disable", "alice", "--db", db]) == 2
    assert "error: user 'alice' was already disabled on " in capsys.readouterr().err
    engine = open_engine(db)
    assert [u.username for u in UserStore(engine, "TB").list()] == ["alice"]
    engine.dispose()


def test_the_password_is_asked_twice_on_the_terminal_and_never_echoed(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'users.db'}"
    code, out = _on_a_terminal(["users", "create", "alice", "--role", "admin", "--db", db],
                               [PASSWORD, PASSWORD], tmp_path)  # fmt: skip
    assert code == 0, out
    assert "password for alice:" in out and "the same password again:" in out and PASSWORD not in out
    assert "created user alice (admin)" in out
    code, out = _on_a_terminal(
        ["users", "passwd", "alice", "--db", db], ["one password", "another one"], tmp_path
    )
    assert (
        code == 2
        and "error: the two passwords differ: run the command again and type the same password twice" in out
    )
    engine = open_engine(db)
    assert UserStore(engine, "TB").verify("alice", PASSWORD).username == "alice"  # unchanged
    engine.dispose()

"""Failed-authentication limiting: after N guesses (wrong keys, forged tokens, wrong passwords) within the window
from one client address, or against one username, further guesses get a 429 with Retry-After; valid keys keep
working, a locked login is refused before its password is checked, and each lock is in the audit log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from tests.api_harness import Api, api_on, as_key, bearer

from traderbot.api.audit import AuditLog
from traderbot.api.authlimit import FailedAuthLimiter
from traderbot.api.users import UserStore

PASSWORD = "correct horse battery"


@contextmanager
def client_at(api: Api, address: str) -> Iterator[TestClient]:
    """The same app called from another client address."""
    with TestClient(api.app, raise_server_exceptions=False, client=(address, 40000)) as client:
        yield client


def _login(client: TestClient, username: str, password: str) -> tuple[int, str, str | None]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    return (
        r.status_code,
        r.json()["error"]["message"] if r.status_code != 200 else "",
        r.headers.get("retry-after"),
    )


def test_wrong_keys_from_one_address_get_429_but_valid_keys_still_work(tmp_path: object) -> None:
    with api_on(f"sqlite:///{tmp_path}/t.db", failed_auth_limit=3, failed_auth_window_s=60) as api:
        c = api.client
        statuses = [c.get("/api/v1/pairs", headers=as_key("tb_1_guess")).status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        r = c.get("/api/v1/pairs", headers=bearer("tbt.1.admin.99.forged"))
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60
        assert r.json()["error"] == {"code": "too_many_failed_auth", "message": (
            f"too many failed authentications for client address testclient (3 within 60 s): check the "
            f"credentials and retry in {r.headers['retry-after']} s")}  # fmt: skip
        assert c.get("/api/v1/pairs", headers=as_key(api.viewer)).status_code == 200  # successes unaffected
        assert c.post("/api/v1/pairs", headers=as_key(api.operator),
                      json={"pair": "EURUSD", "reason": "new"}).status_code == 201  # fmt: skip
        with client_at(api, "10.0.0.7") as other:  # another address is not locked
            assert other.get("/api/v1/pairs", headers=as_key("tb_1_guess")).status_code == 401
        # no credentials at all, an expired token or a revoked key are not guesses: never counted
        with client_at(api, "10.0.0.8") as quiet:
            expired = api.app.state.api.tokens.issue(1, api.app.state.api.keys.get(1).role, 60, now_s=1.0)
            for _ in range(5):
                assert quiet.get("/api/v1/pairs").status_code == 401
                assert quiet.get("/api/v1/pairs", headers=bearer(expired)).status_code == 401
        rows = [r for r in AuditLog(api.engine, "TB").read() if r.action == "auth.lockout"]
        assert [(r.method, r.path, r.status_code, r.outcome) for r in rows] == [
            ("GET", "/api/v1/pairs", 429,
             "locked client address testclient after 3 failed authentications within 60 s")]  # fmt: skip


def test_a_lock_lifts_when_its_failures_leave_the_window(tmp_path: object) -> None:
    with api_on(f"sqlite:///{tmp_path}/t.db", failed_auth_limit=2, failed_auth_window_s=0.5) as api:
        c = api.client
        assert [c.get("/api/v1/pairs", headers=as_key("tb_9_x")).status_code for _ in range(3)] == [
            401,
            401,
            429,
        ]
        time.sleep(0.6)
        assert c.get("/api/v1/pairs", headers=as_key("tb_9_x")).status_code == 401


def test_password_guesses_lock_the_username_and_the_address(tmp_path: object) -> None:
    with api_on(f"sqlite:///{tmp_path}/t.db", failed_auth_limit=3, failed_auth_window_s=60) as api:
        UserStore(api.engine, "TB").create("alice", "admin", PASSWORD)
        UserStore(api.engine, "TB").create("bob", "viewer", PASSWORD)
        with client_at(api, "10.0.0.1") as attacker, client_at(api, "10.0.0.2") as alice_desk:
            assert [_login(attacker, "alice", f"guess {i}")[0] for i in range(3)] == [401, 401, 401]
            # locked: refused before the password is checked, even the right one, from any address
            status, message, retry = _login(attacker, "alice", PASSWORD)
            assert (
                status == 429
                and retry is not None
                and message.startswith(
                    "too many failed authentications for client address 10.0.0.1 (3 within 60 s)"
                )
            )
            status, message, _ = _login(alice_desk, "alice", PASSWORD)
            assert status == 429 and message.startswith("too many failed authentications for user 'alice'")
            # the attacker's address is locked for other usernames too; bob elsewhere logs in
            assert _login(attacker, "bob", PASSWORD)[0] == 429
            assert _login(alice_desk, "bob", PASSWORD)[0] == 200
        rows = AuditLog(api.engine, "TB").read()
        logins = [(r.status_code, r.outcome.split(":")[0]) for r in rows if r.action == "auth.login"]
        assert logins[:3] == [(401, "failed login of 'alice'")] * 3
        assert logins[3:6] == [(429, "login of 'alice' refused")] * 2 + [(429, "login of 'bob' refused")]
        locks = sorted(r.outcome for r in rows if r.action == "auth.lockout")
        assert locks == ["locked client address 10.0.0.1 after 3 failed authentications within 60 s",
                         "locked user 'alice' after 3 failed authentications within 60 s"]  # fmt: skip


def test_a_correct_password_clears_the_usernames_failures(tmp_path: object) -> None:
    with api_on(f"sqlite:///{tmp_path}/t.db", failed_auth_limit=3, failed_auth_window_s=60) as api:
        UserStore(api.engine, "TB").create("alice", "admin", PASSWORD)
        for i, address in enumerate(("10.0.0.1", "10.0.0.2", "10.0.0.3")):
            with client_at(api, address) as c:  # two typos, then the right password, from each of 3 desks
                assert [_login(c, "alice", "typo")[0] for _ in range(2)] == [401, 401], i
                assert _login(c, "alice", PASSWORD)[0] == 200, i


def test_the_limiter_counts_a_sliding_window_and_stays_bounded() -> None:
    now = [0.0]
    limiter = FailedAuthLimiter(3, 10.0, clock=lambda: now[0])
    assert [limiter.fail("a") for _ in range(3)] == [False, False, True]  # True: the failure that locks
    assert limiter.locked_for("a") == 10.0 and limiter.locked_for("b") == 0.0
    for t in (4.0, 5.0, 6.0):  # a guesser who keeps guessing while locked stays locked
        now[0] = t
        assert limiter.fail("a") is False
    now[0] = 10.5
    assert limiter.locked_for("a") == 3.5  # the third-newest failure (4.0) leaves the window at 14.0
    now[0] = 14.0
    assert limiter.locked_for("a") == 0.0
    limiter.fail("a")
    limiter.clear("a")
    assert limiter.locked_for("a") == 0.0
    for i in range(20_000):
        limiter.fail(f"spray-{i}")
    assert len(limiter._failures) <= 10_000

"""Users: an admin creates them (API or CLI), they log in with a password for a short-lived token carrying their
role; wrong passwords and unknown users get the same 401; a disabled user's tokens stop at once, and a new
password ends older tokens. Passwords are stored as salted scrypt hashes only."""

from __future__ import annotations

from sqlalchemy import select
from tests.api_harness import Api, api_on, as_key, bearer, table_counts

from traderbot.api.audit import AuditLog
from traderbot.api.context import ApiContext
from traderbot.api.passwords import verify_password
from traderbot.api.role import Role
from traderbot.api.users import UserStore
from traderbot.store.api_models import ApiUserRecord

PASSWORD = "correct horse battery"


def _login(api: Api, username: str, password: str = PASSWORD) -> dict[str, object]:
    r = api.client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def _create(api: Api, username: str, role: str, password: str = PASSWORD) -> None:
    r = api.client.post("/api/v1/users", headers=as_key(api.admin),
                        json={"username": username, "role": role, "password": password})  # fmt: skip
    assert r.status_code == 201, r.text


def test_a_user_logs_in_and_their_token_carries_their_role(any_db_url: str) -> None:
    with api_on(any_db_url, token_ttl_s=600) as api:
        _create(api, "alice", "operator")
        _create(api, "vera", "viewer")
        body = _login(api, "alice")
        assert set(body) == {"token", "token_type", "role", "username", "expires", "expires_in"}
        assert (body["role"], body["username"], body["expires_in"]) == ("operator", "alice", 600)
        token = str(body["token"])
        who = api.client.get("/api/v1/auth/whoami", headers=bearer(token)).json()
        assert who == {"key_id": None, "name": "user:alice", "role": "operator", "via": "token",
                       "username": "alice"}  # fmt: skip
        added = api.client.post(
            "/api/v1/pairs", headers=bearer(token), json={"pair": "EURUSD", "reason": "new"}
        )
        assert added.status_code == 201
        r = api.client.get("/api/v1/users", headers=bearer(token))
        assert r.status_code == 403
        assert r.json()["error"]["message"] == (
            "GET /api/v1/users needs the admin role but user alice is an operator: log in as a user with that "
            "role (an admin creates one with `traderbot users create NAME --role admin`)"
        )
        viewer = str(_login(api, "vera")["token"])
        assert api.client.get("/api/v1/pairs", headers=bearer(viewer)).status_code == 200
        assert api.client.put("/api/v1/pairs/EURUSD/disable", headers=bearer(viewer),
                              json={"reason": "x"}).status_code == 403  # fmt: skip
        # a user's token is not exchanged for another token
        assert api.client.post("/api/v1/auth/token", headers=bearer(token)).status_code == 403
        rows = AuditLog(api.engine, "TB").read()
        assert (rows[-1].key_name, rows[-1].action, rows[-1].status_code) == ("user:alice", "auth.token", 403)
        login_rows = [r for r in rows if r.action == "auth.login"]
        assert [(r.key_id, r.key_name, r.role, r.status_code) for r in login_rows] == [
            (None, "user:alice", "operator", 200), (None, "user:vera", "viewer", 200)]  # fmt: skip
        assert login_rows[0].outcome == "user alice logged in (operator), token for 600 s"
        added_row = next(r for r in rows if r.action == "pairs.add")
        assert (added_row.key_name, added_row.role, added_row.status_code) == ("user:alice", "operator", 201)


def test_wrong_passwords_and_unknown_users_get_the_same_401(any_db_url: str) -> None:
    with api_on(any_db_url) as api:
        _create(api, "alice", "viewer")
        before = table_counts(api.engine)
        wrong = api.client.post("/api/v1/auth/login", json={"username": "alice", "password": "nope nope"})
        unknown = api.client.post("/api/v1/auth/login", json={"username": "mallory", "password": PASSWORD})
        for r in (wrong, unknown):
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
            assert r.json()["error"] == {
                "code": "unauthorized",
                "message": (
                    "wrong username or password: check both (an admin creates users with `traderbot users create`)"
                ),
            }
        bad = api.client.post("/api/v1/auth/login", json={"username": "alice"})
        assert bad.status_code == 422 and "body.password: Field required" in bad.json()["error"]["message"]
        assert api.client.post("/api/v1/auth/login", content=b"{", headers={"Content-Type": "application/json"}
                               ).status_code == 400  # fmt: skip
        assert table_counts(api.engine) == before
        outcomes = [r.outcome for r in AuditLog(api.engine, "TB").read() if r.action == "auth.login"]
        assert outcomes[0].startswith("failed login of 'alice': wrong username or password")
        assert outcomes[1].startswith("failed login of 'mallory': wrong username or password")


def test_a_disabled_user_cannot_log_in_and_their_tokens_stop_at_once(any_db_url: str) -> None:
    with api_on(any_db_url) as api:
        _create(api, "alice", "admin")
        token = str(_login(api, "alice")["token"])
        assert api.client.get("/api/v1/users", headers=bearer(token)).status_code == 200
        r = api.client.delete("/api/v1/users/alice", headers=as_key(api.admin))
        assert r.status_code == 200 and r.json()["disabled"] is not None
        after = api.client.get("/api/v1/pairs", headers=bearer(token))
        assert after.status_code == 401 and after.json()["error"]["message"].startswith(
            "user 'alice' was disabled on"
        )
        login = api.client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
        assert login.status_code == 401 and "was disabled on" in login.json()["error"]["message"]
        wrong = api.client.post("/api/v1/auth/login", json={"username": "alice", "password": "not hers!"})
        assert wrong.json()["error"]["message"].startswith("wrong username or password")  # no hint it exists
        again = api.client.delete("/api/v1/users/alice", headers=as_key(api.admin))
        assert (
            again.status_code == 409
            and again.json()["error"]["message"] == "user 'alice' is already disabled"
        )
        missing = api.client.delete("/api/v1/users/bob", headers=as_key(api.admin))
        assert missing.status_code == 404
        assert missing.json()["error"]["message"] == "no user 'bob': see GET /api/v1/users"


def test_a_new_password_ends_older_tokens(any_db_url: str) -> None:
    with api_on(any_db_url) as api:
        _create(api, "alice", "viewer")
        old = str(_login(api, "alice")["token"])
        UserStore(api.engine, "TB").set_password("alice", "another long one")
        r = api.client.get("/api/v1/pairs", headers=bearer(old))
        assert r.status_code == 401
        assert r.json()["error"]["message"] == (
            "the token is not valid (its signature does not match): log in again with POST /api/v1/auth/login"
        )
        new = str(_login(api, "alice", "another long one")["token"])
        assert api.client.get("/api/v1/pairs", headers=bearer(new)).status_code == 200


def test_user_tokens_cannot_be_forged_or_moved_to_another_user(any_db_url: str) -> None:
    with api_on(any_db_url) as api:
        _create(api, "alice", "viewer")
        _create(api, "root", "admin")
        token = str(_login(api, "alice")["token"])
        assert token.startswith("tbt.u1.viewer.")
        ctx: ApiContext = api.app.state.api
        cases = [
            token.replace("tbt.u1.", "tbt.u2."),  # alice's signature on root's id
            token.replace(".viewer.", ".admin."),
            ctx.tokens.issue_user(99, Role.ADMIN, 600, epoch="0"),  # a user that does not exist
            ctx.tokens.issue_user(2, Role.ADMIN, 600, epoch="0"),  # root, without root's epoch
        ]
        for forged in cases:
            r = api.client.get("/api/v1/pairs", headers=bearer(forged))
            assert r.status_code == 401, forged
            assert r.json()["error"]["message"].startswith("the token is not valid")
        # a key token cannot be turned into a user token either (different signed body)
        key_token = api.client.post("/api/v1/auth/token", headers=as_key(api.viewer)).json()["token"]
        assert api.client.get("/api/v1/pairs", headers=bearer("tbt.u" + key_token[4:])).status_code == 401


def test_admins_manage_users_and_bad_input_changes_nothing(any_db_url: str) -> None:
    with api_on(any_db_url) as api:
        _create(api, "alice", "operator")
        listed = api.client.get("/api/v1/users", headers=as_key(api.admin)).json()["users"]
        assert [(u["username"], u["role"], u["disabled"]) for u in listed] == [("alice", "operator", None)]
        assert set(listed[0]) == {"username", "role", "created", "disabled", "password_changed"}
        before = table_counts(api.engine)
        with api.engine.connect() as conn:
            users_before = conn.execute(select(ApiUserRecord.username)).all()
        cases = [
            (
                {"username": "alice", "role": "viewer", "password": PASSWORD},
                409,
                "user 'alice' already exists",
            ),
            ({"username": "bad name", "role": "viewer", "password": PASSWORD}, 422, "body.username"),
            ({"username": "bob", "role": "boss", "password": PASSWORD}, 422, "body.role"),
            ({"username": "bob", "role": "viewer", "password": "short"}, 422, "body.password"),
            ({"username": "bob", "role": "viewer"}, 422, "body.password: Field required"),
            ({"username": "bob", "role": "viewer", "password": PASSWORD, "admin": True}, 422, "body.admin"),
        ]
        for body, status, text in cases:
            r = api.client.post("/api/v1/users", headers=as_key(api.admin), json=body)
            assert r.status_code == status and text in r.json()["error"]["message"], (body, r.text)
        for role in ("viewer", "operator"):
            r = api.client.post("/api/v1/users", headers=as_key(api.key(role)),
                                json={"username": "bob", "role": "admin", "password": PASSWORD})  # fmt: skip
            assert r.status_code == 403
            assert api.client.delete("/api/v1/users/alice", headers=as_key(api.key(role))).status_code == 403
        assert table_counts(api.engine) == before
        with api.engine.connect() as conn:
            assert conn.execute(select(ApiUserRecord.username)).all() == users_before
            assert conn.execute(select(ApiUserRecord.disabled_at)).scalar_one() is None


def test_passwords_are_stored_as_salted_scrypt_hashes_only(any_db_url: str) -> None:
    with api_on(any_db_url) as api:
        _create(api, "alice", "viewer")
        _create(api, "bob", "viewer")  # the same password
        with api.engine.connect() as conn:
            hashes = [
                h for (h,) in conn.execute(select(ApiUserRecord.password_hash).order_by(ApiUserRecord.id))
            ]
        assert all(h.startswith("scrypt$16384$8$1$") and PASSWORD not in h for h in hashes)
        assert hashes[0] != hashes[1]  # a random salt each
        assert all(verify_password(PASSWORD, h) and not verify_password(PASSWORD + "x", h) for h in hashes)
        listed = api.client.get("/api/v1/users", headers=as_key(api.admin)).text
        assert "scrypt" not in listed and PASSWORD not in listed

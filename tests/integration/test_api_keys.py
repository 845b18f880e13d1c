"""API keys: only a hash at rest, shown once, verified, listed without secrets, revoked (with their tokens),
and the first-start admin key."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from tests.api_harness import api_on, as_key, bearer

from traderbot.api.keys import CredentialError, KeyStore, ensure_admin_key
from traderbot.errors import UserError
from traderbot.store.api_models import ApiKeyRecord
from traderbot.store.db import open_engine


def test_a_key_is_stored_only_as_the_hash_of_its_secret(any_db_url: str) -> None:
    engine = open_engine(any_db_url)
    key, plaintext = KeyStore(engine, "TB").create("operator", "ops")
    assert plaintext.startswith(f"tb_{key.id}_") and len(plaintext) > 40
    secret = plaintext.removeprefix(f"tb_{key.id}_")
    with engine.connect() as conn:
        stored = [str(v) for v in conn.execute(select(ApiKeyRecord)).one()]
    assert not any(secret in v or plaintext in v for v in stored)
    assert hashlib.sha256(secret.encode()).hexdigest() in stored
    assert KeyStore(engine, "TB").verify(plaintext).id == key.id
    engine.dispose()


def test_wrong_malformed_and_other_traders_keys_are_refused(any_db_url: str) -> None:
    engine = open_engine(any_db_url)
    ours, other = KeyStore(engine, "TB"), KeyStore(engine, "OTHER")
    _, plaintext = ours.create("viewer")
    with pytest.raises(CredentialError, match="not valid"):
        ours.verify(plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B"))
    with pytest.raises(CredentialError, match="malformed"):
        ours.verify("hunter2")
    with pytest.raises(CredentialError, match="not valid"):
        other.verify(plaintext)
    engine.dispose()


def test_keys_are_listed_without_secrets_and_revoked_once(any_db_url: str) -> None:
    engine = open_engine(any_db_url)
    store = KeyStore(engine, "TB")
    key, _ = store.create("admin", "root")
    store.create("viewer", "")
    listed = store.list()
    assert [(k.name, k.role.value) for k in listed] == [("root", "admin"), ("viewer-key", "viewer")]
    assert not hasattr(listed[0], "key_hash")
    assert store.revoke(key.id).revoked
    with pytest.raises(UserError, match="already revoked"):
        store.revoke(key.id)
    with pytest.raises(UserError, match="no API key 99"):
        store.revoke(99)
    engine.dispose()


def test_a_revoked_key_and_its_tokens_get_401(any_db_url: str) -> None:
    with api_on(any_db_url) as api:
        token = api.client.post("/api/v1/auth/token", headers=as_key(api.operator)).json()["token"]
        assert api.client.get("/api/v1/auth/whoami", headers=bearer(token)).status_code == 200
        key_id = api.client.get("/api/v1/auth/whoami", headers=as_key(api.operator)).json()["key_id"]
        revoked = api.client.delete(f"/api/v1/keys/{key_id}", headers=as_key(api.admin))
        assert revoked.status_code == 200 and revoked.json()["revoked"] is not None
        for headers in (as_key(api.operator), bearer(api.operator), bearer(token)):
            r = api.client.get("/api/v1/pairs", headers=headers)
            assert r.status_code == 401
            assert r.json()["error"]["message"].startswith(
                f"API key {key_id} (operator-test) was revoked on "
            )
        again = api.client.delete(f"/api/v1/keys/{key_id}", headers=as_key(api.admin))
        assert again.status_code == 409 and "already revoked" in again.json()["error"]["message"]


def test_an_admin_creates_a_key_through_the_api_and_it_is_shown_once(any_db_url: str) -> None:
    with api_on(any_db_url) as api:
        r = api.client.post(
            "/api/v1/keys", headers=as_key(api.admin), json={"role": "operator", "name": "bot"}
        )
        assert r.status_code == 201
        new = r.json()["key"]
        who = api.client.get("/api/v1/auth/whoami", headers=as_key(new)).json()
        assert who == {"key_id": r.json()["id"], "name": "bot", "role": "operator", "via": "key"}
        listed = api.client.get("/api/v1/keys", headers=as_key(api.admin)).json()["keys"]
        assert new not in str(listed) and [k["name"] for k in listed][-1] == "bot"


def test_the_first_start_creates_one_admin_key_and_never_another(any_db_url: str) -> None:
    engine = open_engine(any_db_url)
    first = ensure_admin_key(engine, "TB")
    assert first is not None and KeyStore(engine, "TB").verify(first).role.value == "admin"
    assert ensure_admin_key(engine, "TB") is None
    for key in KeyStore(engine, "TB").list():
        KeyStore(engine, "TB").revoke(key.id)
    assert ensure_admin_key(engine, "TB") is None  # revoked all: an admin uses `traderbot keys create`
    KeyStore(engine, "T2").create("viewer")
    assert ensure_admin_key(engine, "T2") is None  # keys made before the first start: none is added
    engine.dispose()

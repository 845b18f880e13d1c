"""Short-lived tokens: exchanged for an API key, carrying its role; expired, forged, tampered or foreign tokens
get a 401 that says which and how to get a new one."""

from __future__ import annotations

import time

from tests.api_harness import api_on, as_key, bearer

from traderbot.api.context import ApiContext
from traderbot.api.role import Role
from traderbot.api.tokens import TokenSigner


def test_a_token_carries_its_keys_role_for_its_lifetime(any_db_url: str) -> None:
    with api_on(any_db_url, token_ttl_s=600) as api:
        r = api.client.post("/api/v1/auth/token", headers=as_key(api.viewer))
        assert r.status_code == 200
        body = r.json()
        assert body["token_type"] == "bearer" and body["role"] == "viewer" and body["expires_in"] == 600
        assert api.client.get("/api/v1/auth/whoami", headers=bearer(body["token"])).json()["via"] == "token"
        assert api.client.get("/api/v1/keys", headers=bearer(body["token"])).status_code == 403
        short = api.client.post("/api/v1/auth/token", headers=as_key(api.viewer), json={"ttl_s": 60})
        assert short.json()["expires_in"] == 60
        longer = api.client.post("/api/v1/auth/token", headers=as_key(api.viewer), json={"ttl_s": 3600})
        assert longer.json()["expires_in"] == 600  # never beyond the server's maximum


def test_expired_forged_tampered_and_foreign_tokens_get_401(any_db_url: str) -> None:
    with api_on(any_db_url) as api:
        ctx: ApiContext = api.app.state.api
        key_id = api.client.get("/api/v1/auth/whoami", headers=as_key(api.viewer)).json()["key_id"]
        expired = ctx.tokens.issue(key_id, Role.VIEWER, 900, now_s=time.time() - 901)
        good = ctx.tokens.issue(key_id, Role.VIEWER, 900)
        head, _, signature = good.rpartition(".")
        forged = f"{head}.{'A' * len(signature)}"
        tampered = good.replace(".viewer.", ".admin.")
        foreign = TokenSigner(api.engine, "OTHER").issue(key_id, Role.VIEWER, 900)
        cases = {expired: "the token expired at ", forged: "the token is not valid (its signature does not match)",
                 tampered: "the token is not valid", foreign: "the token is not valid",
                 "tbt.garbage": "the token is malformed"}  # fmt: skip
        for token, message in cases.items():
            r = api.client.get("/api/v1/pairs", headers=bearer(token))
            assert r.status_code == 401, token
            assert r.json()["error"]["message"].startswith(message)
            assert "POST /api/v1/auth/token" in r.json()["error"]["message"]
            assert r.headers["www-authenticate"] == "Bearer"


def test_the_signing_secret_is_created_once_and_shared_by_every_api_process(any_db_url: str) -> None:
    with api_on(any_db_url) as api:
        token = TokenSigner(api.engine, "TB").issue(1, Role.ADMIN, 300)  # another process of the same trader
        assert api.client.get("/api/v1/auth/whoami", headers=bearer(token)).json()["role"] == "admin"

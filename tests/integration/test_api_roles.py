"""Every /api/v1 route declares its role in router.ENDPOINTS, and each boundary holds: no credentials 401, a
viewer 403 on operator routes, an operator 403 on admin routes, the role itself admitted."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from tests.api_harness import Api, api_on, as_key, table_counts

from traderbot.api.role import Role
from traderbot.api.router import ENDPOINTS, PREFIX, PUBLIC, build_router

ROLES = (Role.VIEWER, Role.OPERATOR, Role.ADMIN)


def _url(path: str) -> str:
    return PREFIX + re.sub(r"\{pair\}", "EURUSD", re.sub(r"\{key_id\}", "999", path))


def _call(api: Api, method: str, path: str, headers: dict[str, str]) -> int:
    # an empty JSON object: enough to pass authorisation and be refused by validation, never to change state
    body = {} if method in ("POST", "PUT") else None
    return api.client.request(method, _url(path), headers=headers, json=body).status_code


def test_every_api_route_is_in_the_role_table_with_its_guard(tmp_path: object) -> None:
    declared = {(e.method, PREFIX + e.path) for e in ENDPOINTS}
    public = {(e.method, PREFIX + e.path) for e in PUBLIC}
    assert len(ENDPOINTS) == len(declared) and not declared & public
    routes = [r for r in build_router().routes if isinstance(r, APIRoute)]
    assert {(m, r.path) for r in routes for m in r.methods} == declared | public
    for route in routes:
        (method,) = route.methods
        if (method, route.path) in public:
            assert route.dependencies == [], route.path  # public: checks its own credentials
            continue
        entry = next(e for e in ENDPOINTS if (e.method, PREFIX + e.path) == (method, route.path))
        guards = [d.dependency for d in route.dependencies]
        assert [getattr(g, "required_role", None) for g in guards] == [entry.role], route.path
    with api_on(f"sqlite:///{tmp_path}/t.db") as api:  # what the app serves (its OpenAPI) is that table
        spec = api.client.get("/openapi.json").json()["paths"]
        served = {(m.upper(), p) for p, ops in spec.items() if p.startswith(PREFIX) for m in ops}
        assert served == declared | public
        for e in PUBLIC:
            assert spec[PREFIX + e.path][e.method.lower()]["x-required-role"] == "none"
        for e in ENDPOINTS:
            op = spec[PREFIX + e.path][e.method.lower()]
            assert op["x-required-role"] == e.role.value and op["summary"].endswith(f"[{e.role.value}]")


def test_the_only_route_without_credentials_is_the_password_login() -> None:
    assert [(e.method, e.path) for e in PUBLIC] == [("POST", "/auth/login")]


def test_each_role_boundary_holds_on_every_route(any_db_url: str) -> None:
    with api_on(any_db_url) as api:
        before = table_counts(api.engine)
        for e in ENDPOINTS:
            assert _call(api, e.method, e.path, {}) == 401, e
            assert _call(api, e.method, e.path, as_key("tb_1_wrong")) == 401, e
            for role in ROLES:
                status = _call(api, e.method, e.path, as_key(api.key(role.value)))
                if role.allows(e.role):
                    assert status not in (401, 403) and status < 500, (e, role, status)
                else:
                    assert status == 403, (e, role, status)
        after = table_counts(api.engine)
        assert after == before  # nothing was changed by any of these calls


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_a_403_names_the_role_needed_and_the_fix(role: str, tmp_path: object) -> None:
    with api_on(f"sqlite:///{tmp_path}/t.db") as api:
        r = api.client.get("/api/v1/keys", headers=as_key(api.key(role)))
        assert r.status_code == 403
        key_id, article = (2, "an") if role == "operator" else (3, "a")
        assert r.json() == {"error": {"code": "forbidden", "message": (
            f"GET /api/v1/keys needs the admin role but API key {key_id} ({role}-test) is {article} {role}: "
            "use a key with that role (an admin creates one with `traderbot keys create --role admin`)"
        )}}  # fmt: skip

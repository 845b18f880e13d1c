"""The API against its own OpenAPI schema (schemathesis): every operation, with generated valid and invalid
input, on the real app (ASGI transport) over a fresh SQLite database, authenticated as an admin. Checks: no 5xx,
every answer's status declared for its operation, every body matching its declared schema (the one error shape
included). Bounded and deterministic: a fixed seed, 20 generated cases per operation, no example database.

No trading service runs here, so the commands that need one (kill switch, re-arm, reload, refresh...) answer
503: that is their declared "service not running" answer, so for those operations, and only for a 503 with the
code service_unavailable, the no-5xx check is skipped (status and schema conformance still apply)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from schemathesis import Case
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance
from schemathesis.config import SchemathesisConfig

from traderbot.api.app import create_app
from traderbot.api.keys import KeyStore
from traderbot.api.settings import ApiSettings
from traderbot.api.users import UserStore
from traderbot.store.db import open_engine

SEED, EXAMPLES = 20260107, 20
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
ADMIN_USER, ADMIN_PASSWORD = "schemathesis-admin", "a long admin password"


class Harness:
    """The app under test and how to authenticate to it."""

    def __init__(self, tmp: Path) -> None:
        self.engine = open_engine(f"sqlite:///{tmp / 'schemathesis.db'}")
        self.keys = KeyStore(self.engine, "TB")
        UserStore(self.engine, "TB").create(ADMIN_USER, "admin", ADMIN_PASSWORD)
        # no per-key or failed-auth limits in the way of hundreds of calls; commands give up at once (no service)
        settings = ApiSettings(rate_per_s=1e6, burst=10**6, failed_auth_limit=10**6, command_timeout_s=0.05)
        self.app = create_app(self.engine, "TB", settings=settings)
        self._token = ""

    def headers(self, case: Case) -> dict[str, str]:
        """An admin user's token (the generated DELETE /keys/{id} may revoke any key); a fresh admin key for
        the one operation that takes a key only (exchanging it for a token)."""
        if case.operation.path == "/api/v1/auth/token":
            return {"X-API-Key": self.keys.create("admin", "schemathesis")[1]}
        if not self._token:
            login = {"username": ADMIN_USER, "password": ADMIN_PASSWORD}
            from fastapi.testclient import TestClient

            with TestClient(self.app) as client:
                self._token = client.post("/api/v1/auth/login", json=login).json()["token"]
        return {"Authorization": f"Bearer {self._token}"}


# the schema is read when the module is collected: the app and its fresh database are built then, in a
# temporary folder removed after the module's tests
_TMP = tempfile.TemporaryDirectory(prefix="tb-schemathesis-")
HARNESS = Harness(Path(_TMP.name))
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    HARNESS.app,
    config=SchemathesisConfig.from_dict(
        {"seed": SEED, "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"}}
    ),
)


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    yield HARNESS
    HARNESS.engine.dispose()
    _TMP.cleanup()


def _declares_503(case: Case) -> bool:
    return "503" in case.operation.definition.raw.get("responses", {})


@schema.parametrize()
def test_every_operation_answers_as_its_schema_says(case: Case, harness: Harness) -> None:
    response = case.call(headers=harness.headers(case))
    checks = CHECKS
    if response.status_code == 503 and _declares_503(case):  # needs the running service (see the docstring)
        assert response.json()["error"]["code"] == "service_unavailable", response.text
        checks = [c for c in CHECKS if c is not not_a_server_error]
    case.validate_response(response, checks=checks)

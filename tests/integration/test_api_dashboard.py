"""The dashboard's files as the app serves them (no build step: every import of every module resolves to a served
file), its security headers, and GET /pairs/{pair}/bars without a running service. The dashboard driven in a
browser against a trading service is tests/e2e/test_dashboard.py."""

from __future__ import annotations

import re
from pathlib import Path

from tests.api_harness import api_on, as_key

from traderbot.api.dashboard import STATIC

IMPORT = re.compile(r"""^import\s.*?from\s+'(\.{1,2}/[^']+)';""", re.MULTILINE | re.DOTALL)


def test_the_page_and_every_module_it_imports_are_served(tmp_path: Path) -> None:
    with api_on(f"sqlite:///{tmp_path / 'api.db'}") as api:
        page = api.client.get("/")  # no credentials: the page itself holds no data
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert '<script type="module" src="/static/js/app.js">' in page.text
        modules = sorted(STATIC.glob("js/**/*.js"))
        assert len(modules) >= 15
        for module in modules:
            served = api.client.get("/static/" + module.relative_to(STATIC).as_posix())
            assert served.status_code == 200, module
            assert (
                "javascript" in served.headers["content-type"]
                and served.headers["cache-control"] == "no-cache"
            )
            for target in IMPORT.findall(module.read_text()):
                assert (module.parent / target).resolve().is_file(), f"{module.name} imports missing {target}"
        for path in ("/static/css/app.css", "/static/vendor/lightweight-charts.standalone.production.js"):
            assert api.client.get(path).status_code == 200, path
        missing = api.client.get("/static/js/nope.js")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        assert api.client.get("/static/../app.py").status_code == 404


def test_the_vendored_chart_library_is_the_version_its_readme_names() -> None:
    readme = (STATIC / "vendor" / "README.md").read_text()
    version = re.search(r"\| (\d+\.\d+\.\d+) \| Apache-2.0", readme)
    assert version is not None, readme
    head = (STATIC / "vendor" / "lightweight-charts.standalone.production.js").read_text()[:300]
    assert f"Lightweight Charts™ v{version.group(1)}" in head
    assert "Apache License" in (STATIC / "vendor" / "LICENSE.lightweight-charts").read_text()


def test_bars_need_a_running_service_and_a_known_pair(tmp_path: Path) -> None:
    with api_on(f"sqlite:///{tmp_path / 'api.db'}") as api:
        viewer = as_key(api.viewer)
        assert api.client.get("/api/v1/pairs/EURUSD/bars").status_code == 401
        unknown = api.client.get("/api/v1/pairs/EURUSD/bars", headers=viewer)
        assert unknown.status_code == 404 and "unknown pair EURUSD" in unknown.json()["error"]["message"]
        added = api.client.post("/api/v1/pairs", json={"pair": "EURUSD", "reason": "test"},
                                headers=as_key(api.operator))  # fmt: skip
        assert added.status_code == 201, added.text
        standalone = api.client.get("/api/v1/pairs/EURUSD/bars", headers=viewer)
        assert standalone.status_code == 503 and "traderbot run" in standalone.json()["error"]["message"]
        assert api.client.get("/api/v1/pairs/EURUSD/bars?limit=0", headers=viewer).status_code == 422

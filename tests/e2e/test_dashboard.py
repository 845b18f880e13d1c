"""The web dashboard end to end: a real `traderbot run` replaying the demo pairs, driven by headless Chromium.

Log in with the first-start admin key, disable then enable a pair from the pairs table, watch orders and positions
appear as the replay trades, lock EURUSD from its page and unlock it, edit the configuration (validated before it
can be saved), queue training, engage the kill switch (with flatten) through its confirmation dialog and see
every position flat and the risk state halted. A viewer signs in with a password and sees no actions.
Screenshots of the main pages are written to artifacts/screenshots/ (ignored by git)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.service_harness import lines_until

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
# the five demo pairs of `traderbot run` (sma_cross, pinned parameters) as a configuration file, so the config
# page has something to show and edit. The demo's first orders come on Monday 4 March 2019 at 02:30; at 3000x
# (15-minute bars: about 3 a second per pair) the pairs send an order every few seconds.
CONFIG = """
[replay]
dataset = "samples"
start = "2019-03-04"
speed = "3000"

[training]
trials = 200
""" + "".join(
    f'\n[[pairs]]\nid = "{p}"\ntimeframe = "15m"\nstrategy = "sma_cross"\nparams = {{ fast = 20, slow = 80 }}\n'
    for p in ("EURUSD", "GBPUSD", "AUDUSD", "NZDUSD", "EURGBP")
)

playwright_api = pytest.importorskip("playwright.sync_api", reason="the test extra installs playwright")
if not CHROMIUM.exists():
    _why = f"no Chromium at {CHROMIUM}: install it with `apt-get install chromium`"
    if os.environ.get("CI"):
        raise RuntimeError(_why)  # CI must run the browser test
    pytest.skip(f"SKIPPED - {_why}", allow_module_level=True)

Page = playwright_api.Page
expect = playwright_api.expect
pytestmark = pytest.mark.timeout(120)
# minutes count on the service's clock, the replay's: at 3000x, 30 minutes pass in 0.6 s, a week in about 200 s
LOCK_MINUTES = str(7 * 24 * 60)


def _start_service(cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    (cwd / "traderbot.toml").write_text(CONFIG)
    return subprocess.Popen([sys.executable, "-m", "traderbot.cli", "run", "--quiet", "--port", "0"],
                            cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def _url_and_key(proc: subprocess.Popen[str]) -> tuple[str, str]:
    lines = lines_until(proc, r"API and dashboard on http://")
    found = re.search(r"on (http://\S+) ", lines[-1])
    assert found is not None, lines
    return found.group(1), next(x for x in lines if x.startswith("tb_"))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, str]]:
    proc = _start_service(tmp_path)
    try:
        yield _url_and_key(proc)
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _log_in_with_key(page: Page, base: str, key: str) -> None:
    page.goto(base + "/")
    page.click("#tab-key")
    page.fill("input[name=api_key]", key)
    page.click("#sign-in")
    expect(page.locator("#view-overview")).to_be_visible()


def _go(page: Page, route: str) -> None:
    page.evaluate(f"location.hash = '#/{route}'")


def test_log_in_trade_and_stop_everything_from_the_dashboard(service: tuple[str, str]) -> None:
    base, key = service
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            crashes: list[str] = []
            page.on("pageerror", lambda e: crashes.append(str(e)))

            # a wrong key is one clear message, and nothing is stored
            page.goto(base + "/")
            page.click("#tab-key")
            page.fill("input[name=api_key]", "tb_1_wrong")
            page.click("#sign-in")
            expect(page.locator("#login-form .error")).to_contain_text("401")
            _shot(page, "00_login")

            _log_in_with_key(page, base, key)
            expect(page.locator("#whoami")).to_contain_text("admin")
            expect(page.locator(".conn")).to_contain_text("Live", timeout=15_000)  # the WebSocket is up
            assert page.evaluate("sessionStorage.getItem('traderbot.session')").count("tbt.") == 1

            _go(page, "pairs")
            trading = page.locator("#pairs-panel tr[data-state=trading]")
            expect(trading).to_have_count(5, timeout=60_000)
            row = page.locator("#pairs-panel tr[data-pair=EURUSD]")
            row.locator("[data-action=disable]").click()
            expect(page.locator("#pair-enable-dialog")).to_be_visible()
            page.locator("#pair-enable-dialog [data-role=confirm]").click()
            expect(row.locator("[data-action=enable]")).to_be_visible(timeout=10_000)
            expect(row).not_to_have_attribute("data-state", "trading", timeout=15_000)
            row.locator("[data-action=enable]").click()
            page.locator("#pair-enable-dialog [data-role=confirm]").click()
            expect(row).to_have_attribute("data-state", "trading", timeout=30_000)
            _shot(page, "02_pairs")

            # the replay trades: orders and positions appear on their pages
            _go(page, "orders")
            expect(page.locator("#orders-panel tbody tr").first).to_be_visible(timeout=40_000)
            _shot(page, "05_orders")
            _go(page, "overview")
            expect(page.locator("#positions-panel tbody tr").first).to_be_visible(timeout=40_000)
            expect(page.locator("#equity-chart canvas").first).to_be_visible()
            expect(page.locator("#event-feed > div:not(.muted)").first).to_be_visible(
                timeout=20_000
            )  # pushed
            _shot(page, "01_overview")

            _go(page, "pair/EURUSD")
            expect(page.locator("#pair-head")).to_contain_text("EURUSD")
            expect(page.locator("#price-chart canvas").first).to_be_visible()
            expect(page.locator("#pair-history tbody tr").first).to_be_visible()  # the disable and enable
            page.wait_for_timeout(500)
            _shot(page, "03_pair")

            # a lock from the pair page: listed in its Risk panel and by the API, then released
            page.locator("#pair-risk-actions [data-action=lock]").click()
            lock = page.locator("#risk-lock-dialog")
            # over a year is refused by the server: its 422 shows in the dialog, which stays open
            lock.locator("input[name=minutes]").fill("999999")
            lock.locator("[data-role=confirm]").click()
            expect(lock.locator(".error")).to_contain_text("422")
            lock.locator("input[name=minutes]").fill(LOCK_MINUTES)
            lock.locator("input[name=reason]").fill("e2e: news coming")
            lock.locator("[data-role=confirm]").click()
            expect(lock).to_have_count(0, timeout=10_000)
            expect(page.locator("#pair-risk tbody tr")).to_have_count(1, timeout=10_000)
            expect(page.locator("#pair-risk tbody tr")).to_contain_text("e2e: news coming")
            with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=10) as http:
                locks = http.get("/api/v1/risk/status").json()["locks"]
                assert [(lk["scope"], lk["source"], lk["action"]) for lk in locks] == [
                    ("pair:EURUSD", "manual", "halted")], locks  # fmt: skip
            _shot(page, "09_pair_lock")
            page.locator("#pair-risk-actions [data-action=unlock]").click()
            page.locator("#risk-unlock-dialog [data-role=confirm]").click()
            expect(page.locator("#risk-unlock-dialog")).to_have_count(0, timeout=10_000)
            expect(page.locator("#pair-risk")).to_contain_text("No lock on EURUSD", timeout=10_000)
            expect(page.locator("#pair-risk-actions [data-action=unlock]")).to_have_count(0)

            # training a trading pair is refused by the server: the dialog says why and stays open
            _go(page, "training")
            expect(page.locator("#train-pair option[value=EURGBP]")).to_have_count(1)
            page.select_option("#train-pair", "EURGBP")
            page.click("#train-queue")
            page.fill("#pair-train-dialog input[name=trials]", "2")
            page.locator("#pair-train-dialog [data-role=confirm]").click()
            expect(page.locator("#pair-train-dialog .error")).to_contain_text("disable it first")
            page.locator("#pair-train-dialog [data-role=cancel]").click()
            expect(page.locator("#training-panel tbody tr")).to_have_count(0)

            # config: an admin edits, must validate first, then saves; the service applies it as a new version
            _go(page, "config")
            editor = page.locator("#config-editor")
            expect(editor).to_have_value(re.compile(r"sma_cross"))
            expect(page.locator("#config-save")).to_be_disabled()
            assert (
                '"***"' not in editor.input_value()
            )  # no setting masked that the admin would have to retype
            editor.fill(editor.input_value().replace("trials = 200", "trials = 150"))
            expect(page.locator("#config-save")).to_be_disabled()  # not validated yet
            page.click("#config-validate")
            expect(page.locator("#config-valid")).to_contain_text("trials")
            _shot(page, "06_config")
            page.click("#config-save")
            page.locator("dialog [data-role=confirm]").click()
            expect(page.locator("#config-applied")).to_be_visible(timeout=15_000)
            expect(page.locator("#config-history tbody tr")).to_have_count(2)  # the start, then this edit
            expect(page.locator("#config-meta")).to_contain_text("version 2")  # read back from the service
            expect(editor).to_have_value(re.compile(r"trials = 150"))
            editor.fill(editor.input_value().replace("trials = 150", 'trials = "many"'))
            page.click("#config-validate")
            expect(page.locator("#config-invalid")).to_contain_text("trials")
            expect(page.locator("#config-save")).to_be_disabled()

            # the kill switch, behind its confirmation, flattening everything
            _go(page, "overview")
            page.click("#kill-switch")
            dialog = page.locator("#kill-switch-dialog")
            expect(dialog).to_be_visible()
            expect(dialog.locator("input[name=flatten]")).to_be_checked()
            _shot(page, "07_kill_switch_dialog")
            dialog.locator("[data-role=confirm]").click()
            expect(dialog).to_have_count(0, timeout=15_000)
            expect(page.locator("#halt-banner")).to_be_visible(timeout=15_000)
            expect(page.locator("#risk-state")).to_contain_text("HALTED")
            expect(page.locator("#kpi-positions")).to_have_text("0", timeout=20_000)
            expect(page.locator("#positions-panel")).to_contain_text("every pair is flat")
            expect(page.locator("#rearm")).to_be_visible()
            _shot(page, "08_halted")
            with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=10) as http:
                positions = http.get("/api/v1/positions").json()["positions"]
                assert positions == [], positions
                assert http.get("/api/v1/risk/status").json()["kill_switch"]["engaged"] is True
                bars = http.get("/api/v1/pairs/EURUSD/bars?limit=5").json()[
                    "bars"
                ]  # what the price chart drew
                assert len(bars) == 5 and [b["time"] for b in bars] == sorted(b["time"] for b in bars)
                assert all(isinstance(b[k], str) and "e" not in b[k] for b in bars for k in ("open", "close"))
                user = {"username": "vera", "role": "viewer", "password": "correct horse battery"}
                assert http.post("/api/v1/users", json=user).status_code == 201
                http.put("/api/v1/pairs/NZDUSD/disable", json={"reason": "e2e: train it"}).raise_for_status()

            # a disabled pair is trained from the queue page: the job shows with its status and progress
            _go(page, "training")
            page.select_option("#train-pair", "NZDUSD")
            page.click("#train-queue")
            page.fill("#pair-train-dialog input[name=trials]", "2")
            page.locator("#pair-train-dialog [data-role=confirm]").click()
            job = page.locator("#training-panel tbody tr", has_text="NZDUSD")
            expect(job).to_have_count(1, timeout=10_000)
            expect(job.locator(".badge")).to_have_text(re.compile(r"queued|running|succeeded|failed", re.I))
            _shot(page, "04_training")
            assert crashes == [], crashes

            # a viewer signs in with a password and sees the same pages without the actions its role cannot take
            viewer = browser.new_page(viewport={"width": 1440, "height": 900})
            viewer.goto(base + "/")
            viewer.fill("input[name=username]", "vera")
            viewer.fill("input[name=password]", "correct horse battery")
            viewer.click("#sign-in")
            expect(viewer.locator("#whoami")).to_contain_text("vera")
            expect(viewer.locator("#whoami")).to_contain_text("viewer")
            expect(viewer.locator("#kill-switch")).to_be_disabled()
            expect(viewer.locator("#rearm")).to_have_count(0)
            _go(viewer, "pairs")
            expect(viewer.locator("#pairs-panel tbody tr")).to_have_count(5)
            expect(viewer.locator("#pairs-panel [data-action]")).to_have_count(0)
            expect(viewer.locator("#cache-refresh")).to_be_disabled()
        finally:
            browser.close()

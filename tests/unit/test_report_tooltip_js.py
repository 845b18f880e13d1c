"""Runs the report's inline tooltip script under Node with a minimal DOM stand-in (skipped without node)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from traderbot.analytics.metrics import TRADE_COLUMNS, compute_metrics
from traderbot.analytics.report_assets import TOOLTIP_JS
from traderbot.analytics.report_html import write_html_report

NODE = shutil.which("node")

HARNESS = """
const fs = require('fs');
const html = fs.readFileSync(process.argv[2], 'utf8');
const unesc = s => s.replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&amp;/g, '&');
function el() { const a = {}; return { attrs: a, textContent: '', setAttribute(k, v) { a[k] = v; },
  getComputedTextLength() { return this.textContent.length * 7; } }; }
const charts = [...html.matchAll(/<svg class="chart[^"]*"([^>]*)>/g)].map(m => {
  const ds = {}; for (const x of m[1].matchAll(/data-(\\w+)="([^"]*)"/g)) ds[x[1]] = unesc(x[2]);
  const parts = { '.hover': el(), line: el(), circle: el(), rect: el(), text: el() };
  parts['.hover'].querySelector = s => parts[s];
  const handlers = {};
  return { dataset: ds, parts, handlers, querySelector: s => parts[s],
    addEventListener(n, f) { handlers[n] = f; },
    createSVGPoint() { return { x: 0, y: 0, matrixTransform() { return { x: this.x, y: this.y }; } }; },
    getScreenCTM() { return { inverse() { return null; } }; } };
});
global.document = { querySelectorAll: () => charts };
eval(fs.readFileSync(process.argv[3], 'utf8'));
const out = [];
for (const c of charts) {
  c.handlers.mousemove({ clientX: Number(process.argv[4]), clientY: 50 });
  out.push({ text: c.parts.text.textContent, cx: c.parts.circle.attrs.cx, cy: c.parts.circle.attrs.cy,
             visible: c.parts['.hover'].attrs.visibility });
}
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_tooltip_script_points_at_the_plotted_data(tmp_path: Path) -> None:
    idx = pd.date_range("2024-03-01", periods=200, freq="h", tz="UTC")
    equity = pd.Series(10_000.0 + np.arange(200) * 5.0, index=idx)
    trades = pd.DataFrame({c: [] for c in TRADE_COLUMNS})
    report = write_html_report(
        tmp_path / "r.html",
        title="t",
        equity=equity,
        trades=trades,
        prices={},
        metrics=compute_metrics(equity, trades),
        params={},
    )
    (tmp_path / "tip.js").write_text(TOOLTIP_JS)
    (tmp_path / "harness.js").write_text(HARNESS)
    html = report.read_text(encoding="utf-8")
    polylines = re.findall(r'<polyline class="line" points="([^"]+)"', html)
    assert NODE is not None
    for mouse_x, point in ((5000, -1), (0, 0)):  # beyond the right / left edge -> last / first point
        run = subprocess.run(
            [NODE, str(tmp_path / "harness.js"), str(report), str(tmp_path / "tip.js"), str(mouse_x)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        equity_tip, drawdown_tip = json.loads(run.stdout)
        x, y = (float(v) for v in polylines[0].split()[point].split(","))
        assert equity_tip["visible"] == "visible"
        assert equity_tip["cx"] == pytest.approx(x, abs=0.06) and equity_tip["cy"] == pytest.approx(
            y, abs=0.06
        )
        stamp = idx[point].strftime("%Y-%m-%d %H:%M")
        assert equity_tip["text"] == f"{stamp} UTC   {equity.iloc[point]:,.2f}"
        assert drawdown_tip["text"] == f"{stamp} UTC   0.00%"

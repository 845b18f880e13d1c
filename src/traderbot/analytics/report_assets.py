"""The embedded CSS and tooltip script of the HTML report (inline, so the file opens offline)."""

from __future__ import annotations

REPORT_CSS = """
:root { --fg:#1f2933; --muted:#687684; --line:#d9e0e6; --bg:#f5f7f9; --card:#fff;
  --accent:#1f5fa8; --pos:#17803d; --neg:#c0392b; --short:#d9822b; }
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
  font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:1240px; margin:0 auto; padding:24px 28px 48px; }
h1 { font-size:24px; margin:0 0 4px; } h2 { font-size:17px; margin:0 0 10px; }
h3 { font-size:14px; margin:14px 0 6px; }
.sub, .muted { color:var(--muted); }
.note { background:#fff8e1; border:1px solid #f0d98c; border-radius:6px; padding:8px 12px; margin:14px 0; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:16px 18px;
  margin:16px 0; }
.groups { display:grid; grid-template-columns:repeat(auto-fit,minmax(430px,1fr)); gap:10px 22px; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { padding:4px 8px; border-bottom:1px solid var(--line); text-align:left; white-space:nowrap; }
th { font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.03em; }
td.num { text-align:right; } td.key { color:var(--muted); font:11px ui-monospace,Menlo,Consolas,monospace; }
td.neg { color:var(--neg); } td.pos { color:var(--pos); }
.scroll { overflow-x:auto; max-height:640px; overflow-y:auto; }
.scroll th { position:sticky; top:0; background:var(--card); }
dl.params { display:grid; grid-template-columns:max-content 1fr; gap:4px 18px; margin:0; }
dl.params dt { color:var(--muted); }
dl.params dd { margin:0; font-family:ui-monospace,Menlo,Consolas,monospace;
  white-space:pre-wrap; word-break:break-word; }
svg.chart { width:100%; height:auto; display:block; font-size:12px; }
svg.chart .grid line { stroke:#edf1f4; } svg.chart .frame { fill:none; stroke:var(--line); }
svg.chart text { fill:var(--muted); }
svg.chart .ylab { text-anchor:end; } svg.chart .xlab { text-anchor:middle; }
svg.chart .line { fill:none; stroke:var(--accent); stroke-width:1.4; stroke-linejoin:round; }
svg.chart .area { fill:rgba(192,57,43,.16); stroke:none; }
svg.chart .baseline { stroke:#9aa5b1; stroke-dasharray:5 4; }
svg.chart .seg { stroke-width:1; stroke-dasharray:3 3; } svg.chart .seg.win { stroke:var(--pos); }
svg.chart .seg.loss { stroke:var(--neg); }
svg.chart .mk { stroke-width:1.2; } svg.chart .mk.long { fill:var(--pos); stroke:#fff; }
svg.chart .mk.short { fill:var(--short); stroke:#fff; }
svg.chart .mk.win { stroke:var(--pos); stroke-width:2.2; }
svg.chart .mk.loss { stroke:var(--neg); stroke-width:2.2; }
svg.chart .hover line { stroke:#52606d; stroke-dasharray:2 2; }
svg.chart .hover circle { fill:var(--accent); }
svg.chart .hover rect { fill:#1f2933; opacity:.9; } svg.chart .hover text { fill:#fff; }
svg.chart.dd .line { stroke:var(--neg); }
.legend { color:var(--muted); font-size:12px; margin:4px 0 0; }
.legend .long { color:var(--pos); } .legend .short { color:var(--short); } .legend .neg { color:var(--neg); }
footer { color:var(--muted); font-size:12px; text-align:center; }
"""

TOOLTIP_JS = """
(function () {
  function fmt(v, kind, dec) {
    if (kind === 'pct') return (v * 100).toFixed(Math.min(dec, 6)) + '%';
    var opts = {maximumFractionDigits: Math.min(dec, 10)};
    if (kind === 'money') opts.minimumFractionDigits = opts.maximumFractionDigits;
    return v.toLocaleString('en-US', opts);
  }
  document.querySelectorAll('svg.chart[data-t]').forEach(function (svg) {
    var t = JSON.parse(svg.dataset.t), v = JSON.parse(svg.dataset.v);
    var m = svg.dataset.map.split(',').map(Number), dec = Number(svg.dataset.dec);
    var g = svg.querySelector('.hover'), ln = g.querySelector('line'), dot = g.querySelector('circle');
    var box = g.querySelector('rect'), txt = g.querySelector('text');
    svg.addEventListener('mousemove', function (e) {
      var p = svg.createSVGPoint(); p.x = e.clientX; p.y = e.clientY;
      p = p.matrixTransform(svg.getScreenCTM().inverse());
      var target = m[2] + (p.x - m[0]) / m[1] * (m[3] - m[2]), lo = 0, hi = t.length - 1;
      while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (t[mid] < target) lo = mid; else hi = mid; }
      var i = Math.abs(t[lo] - target) <= Math.abs(t[hi] - target) ? lo : hi;
      var x = m[0] + (t[i] - m[2]) / (m[3] - m[2]) * m[1], y = m[4] + (m[7] - v[i]) / (m[7] - m[6]) * m[5];
      ln.setAttribute('x1', x); ln.setAttribute('x2', x); ln.setAttribute('y1', m[4]);
      ln.setAttribute('y2', m[4] + m[5]); dot.setAttribute('cx', x); dot.setAttribute('cy', y);
      txt.textContent = new Date(t[i] * 1000).toISOString().slice(0, 16).replace('T', ' ') + ' UTC   '
        + fmt(v[i], svg.dataset.fmt, dec);
      var w = txt.getComputedTextLength() + 14, bx = x + 10 + w > m[0] + m[1] ? x - 10 - w : x + 10;
      box.setAttribute('x', bx); box.setAttribute('y', m[4] + 4); box.setAttribute('width', w);
      txt.setAttribute('x', bx + 7); txt.setAttribute('y', m[4] + 18);
      g.setAttribute('visibility', 'visible');
    });
    svg.addEventListener('mouseleave', function () { g.setAttribute('visibility', 'hidden'); });
  });
})();
"""

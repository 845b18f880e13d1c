"""Inline SVG time-series charts for the HTML report, drawn directly from numpy arrays."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
import pandas as pd

WIDTH, HEIGHT = 1160, 300
LEFT, RIGHT, TOP, BOTTOM = 88, 18, 14, 34
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
NS = 1_000_000_000

# (pandas frequency or None for a fixed step, step in seconds, label strftime)
_TIME_STEPS: tuple[tuple[str | None, int, str], ...] = (
    (None, 60, "%H:%M"),
    (None, 300, "%H:%M"),
    (None, 900, "%H:%M"),
    (None, 1800, "%H:%M"),
    (None, 3600, "%H:%M"),
    (None, 3 * 3600, "%H:%M"),
    (None, 6 * 3600, "%H:%M"),
    (None, 12 * 3600, "%H:%M"),
    (None, 86400, "%Y-%m-%d"),
    (None, 2 * 86400, "%Y-%m-%d"),
    ("W-MON", 7 * 86400, "%Y-%m-%d"),
    ("MS", 30 * 86400, "%Y-%m"),
    ("QS", 91 * 86400, "%Y-%m"),
    ("2QS", 182 * 86400, "%Y-%m"),
    ("YS", 365 * 86400, "%Y"),
    ("2YS", 730 * 86400, "%Y"),
    ("5YS", 1826 * 86400, "%Y"),
    ("10YS", 3652 * 86400, "%Y"),
)


@dataclass(frozen=True, slots=True)
class Marker:
    """A point symbol: shape 'up' (triangle), 'down' (triangle) or 'x'; `title` is its hover text."""

    t_ns: int
    value: float
    shape: str
    css: str
    title: str


@dataclass(frozen=True, slots=True)
class Segment:
    """A dashed line between two (time, value) points, e.g. a trade's entry and exit."""

    t0_ns: int
    v0: float
    t1_ns: int
    v1: float
    css: str


def downsample_minmax(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last points plus each bucket's min and max, (max_points - 2) // 2 equal-count buckets."""
    n = len(y)
    if n <= max_points:
        return x, y
    buckets = max(1, (max_points - 2) // 2)
    size = -(-n // buckets)
    padded = np.concatenate([y, np.full(buckets * size - n, y[-1])])
    blocks = padded.reshape(buckets, size)
    base = np.arange(buckets) * size
    imin = np.minimum(base + blocks.argmin(axis=1), n - 1)
    imax = np.minimum(base + blocks.argmax(axis=1), n - 1)
    keep = np.unique(np.concatenate([[0, n - 1], imin, imax]))
    return x[keep], y[keep]


def nice_step(span: float, target: int) -> float:
    """The smallest 1/2/5 x 10^k step giving at most `target` intervals over `span`."""
    raw = span / max(target, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for multiple in (1.0, 2.0, 5.0, 10.0):
        if multiple * magnitude >= raw * (1 - 1e-9):
            return multiple * magnitude
    return 10.0 * magnitude


def value_axis(lo: float, hi: float, target: int = 8) -> tuple[float, float, list[float]]:
    """Axis bounds = [lo, hi] padded by 4% of the span; ticks = the 1/2/5-step multiples inside them."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi - lo <= max(abs(lo), abs(hi)) * 1e-12:
        pad = max(abs(lo), abs(hi)) * 0.01 or 1.0
        lo, hi = lo - pad, hi + pad
    pad = (hi - lo) * 0.04
    low, high = lo - pad, hi + pad
    step = nice_step(high - low, target)
    first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    return low, high, [i * step for i in range(first, last + 1)]


def time_ticks(t0_ns: int, t1_ns: int, target: int = 10) -> list[tuple[int, str]]:
    """Calendar-aligned UTC tick positions (ns) and labels over [t0, t1], at most about `target` of them."""
    span_s = (t1_ns - t0_ns) / NS
    if span_s <= 0:
        return [(t0_ns, pd.Timestamp(t0_ns, tz="UTC").strftime("%Y-%m-%d %H:%M"))]
    freq, step_s, fmt = next((s for s in _TIME_STEPS if span_s / s[1] <= target), _TIME_STEPS[-1])
    if freq is None:
        step = step_s * NS
        ticks = list(range(-(-t0_ns // step) * step, t1_ns + 1, step))
    else:
        start = pd.Timestamp(t0_ns, tz="UTC").normalize()
        stamps = pd.date_range(start, pd.Timestamp(t1_ns, tz="UTC"), freq=freq)
        ticks = [int(v) for v in stamps.as_unit("ns").asi8 if t0_ns <= int(v) <= t1_ns]
    if fmt == "%H:%M" and t0_ns // (86400 * NS) != t1_ns // (86400 * NS):
        fmt = "%m-%d %H:%M"  # intraday steps across several UTC dates
    return [(t, pd.Timestamp(t, tz="UTC").strftime(fmt)) for t in ticks]


def _decimals(step: float) -> int:
    """Decimals needed to tell apart ticks `step` apart."""
    return max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 2


def format_value(value: float, kind: str, step: float) -> str:
    """Axis label text: pct -> '-12.5%', others -> thousands-separated with just enough decimals."""
    if kind == "pct":
        return f"{value * 100:,.{_decimals(step * 100)}f}%"
    return f"{value:,.{_decimals(step)}f}"


@dataclass(frozen=True, slots=True)
class _Frame:
    """Linear maps from (time ns, value) to SVG pixel coordinates."""

    t0: int
    t1: int
    lo: float
    hi: float

    def px(self, t: np.ndarray | int) -> np.ndarray:
        span = max(self.t1 - self.t0, 1)
        return LEFT + (np.asarray(t, dtype=np.float64) - self.t0) / span * PLOT_W

    def py(self, v: np.ndarray | float) -> np.ndarray:
        return TOP + (self.hi - np.asarray(v, dtype=np.float64)) / (self.hi - self.lo) * PLOT_H


def _points(xs: np.ndarray, ys: np.ndarray) -> str:
    """SVG points text 'x,y x,y ...' rounded to 0.1 px."""
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs.tolist(), ys.tolist(), strict=True))


def _axes(frame: _Frame, ticks: list[float], kind: str) -> list[str]:
    """Grid lines and tick labels for both axes."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    out = ['<g class="grid">']
    for v in ticks:
        y = float(frame.py(v))
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        label = escape(format_value(v, kind, step))
        out.append(f'<text class="ylab" x="{LEFT - 8}" y="{y + 4:.1f}">{label}</text>')
    for t, label in time_ticks(frame.t0, frame.t1):
        x = float(frame.px(t))
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + PLOT_H}"/>')
        out.append(f'<text class="xlab" x="{x:.1f}" y="{HEIGHT - 12}">{escape(label)}</text>')
    out.append(f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}"/></g>')
    return out


def _marker_svg(frame: _Frame, m: Marker) -> str:
    """One marker: triangle up/down or an 'x', with a <title> tooltip."""
    x, y, s = float(frame.px(m.t_ns)), float(frame.py(m.value)), 6.0
    if m.shape == "x":
        d = (
            f"M{x - s:.1f},{y - s:.1f}L{x + s:.1f},{y + s:.1f}"
            f"M{x - s:.1f},{y + s:.1f}L{x + s:.1f},{y - s:.1f}"
        )
    elif m.shape == "up":
        d = f"M{x:.1f},{y - s:.1f}L{x + s:.1f},{y + s * 0.8:.1f}L{x - s:.1f},{y + s * 0.8:.1f}Z"
    else:
        d = f"M{x:.1f},{y + s:.1f}L{x + s:.1f},{y - s * 0.8:.1f}L{x - s:.1f},{y - s * 0.8:.1f}Z"
    return f'<path class="mk {escape(m.css)}" d="{d}"><title>{escape(m.title)}</title></path>'


def _hover_data(frame: _Frame, xs: np.ndarray, ys: np.ndarray, kind: str, step: float) -> str:
    """data-* attributes read by the report's tooltip script: times (s), values, the pixel map, format."""
    times = json.dumps([round(t / NS) for t in xs.tolist()], separators=(",", ":"))
    values = json.dumps([float(f"{v:.10g}") for v in ys.tolist()], separators=(",", ":"))
    span_s = max(frame.t1 - frame.t0, 1) / NS
    t0_s = frame.t0 / NS
    fmap = f"{LEFT},{PLOT_W},{t0_s:.3f},{t0_s + span_s:.3f},{TOP},{PLOT_H},{frame.lo},{frame.hi}"
    decimals = {"money": 2, "pct": _decimals(step * 100) + 2}.get(kind, _decimals(step) + 3)
    return (
        f'data-t="{escape(times)}" data-v="{escape(values)}" data-map="{fmap}" '
        f'data-fmt="{escape(kind)}" data-dec="{decimals}"'
    )


def line_chart(
    x_ns: np.ndarray,
    y: np.ndarray,
    *,
    kind: str,
    label: str,
    max_points: int = 3000,
    area_to: float | None = None,
    baseline: float | None = None,
    markers: Sequence[Marker] = (),
    segments: Sequence[Segment] = (),
) -> str:
    """An inline <svg> line chart of y over UTC time, min/max-downsampled to at most `max_points` points."""
    finite = np.isfinite(y)
    xs, ys = downsample_minmax(x_ns[finite].astype(np.int64), y[finite].astype(np.float64), max_points)
    if len(xs) == 0:
        return f'<p class="muted">No data to plot for {escape(label)}.</p>'
    extra = [m.value for m in markers] + [v for v in (area_to, baseline) if v is not None]
    lo, hi, ticks = value_axis(min([float(ys.min()), *extra]), max([float(ys.max()), *extra]))
    frame = _Frame(int(xs[0]), int(xs[-1]), lo, hi)
    px, py = frame.px(xs), frame.py(ys)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
        f"{_hover_data(frame, xs, ys, kind, step)}>",
        *_axes(frame, ticks, kind),
    ]
    if area_to is not None:
        base = float(frame.py(area_to))
        area = f"{px[0]:.1f},{base:.1f} {_points(px, py)} {px[-1]:.1f},{base:.1f}"
        parts.append(f'<polygon class="area" points="{area}"/>')
    if baseline is not None:
        yb = float(frame.py(baseline))
        parts.append(f'<line class="baseline" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{yb:.1f}" y2="{yb:.1f}"/>')
    parts.append(f'<polyline class="line" points="{_points(px, py)}"/>')
    for s in segments:
        x0, x1 = float(frame.px(s.t0_ns)), float(frame.px(s.t1_ns))
        y0, y1 = float(frame.py(s.v0)), float(frame.py(s.v1))
        parts.append(
            f'<line class="seg {escape(s.css)}" x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}"/>'
        )
    parts.extend(_marker_svg(frame, m) for m in markers)
    parts.append('<g class="hover" visibility="hidden"><line y1="0" y2="0"/><circle r="4"/>')
    parts.append('<rect rx="3" height="20"/><text></text></g></svg>')
    return "".join(parts)

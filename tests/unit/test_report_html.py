"""The self-contained HTML report: structure, offline-ness, escaping, truncation and large inputs."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from traderbot.analytics._svg import downsample_minmax, time_ticks, value_axis
from traderbot.analytics.metric_format import METRIC_SPECS, format_metric
from traderbot.analytics.metrics import TRADE_COLUMNS, compute_metrics
from traderbot.analytics.report_html import MAX_TRADE_ROWS, write_html_report

PARAMS = {
    "strategy": "sma_cross",
    "parameters": "fast=10, slow=50",
    "costs": "commission 2 USD, spread 1 pip",
}


class Collector(HTMLParser):
    """Counts tags and records every attribute value and text chunk."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.attrs: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attrs += [(k, v or "") for k, v in attrs]

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> Collector:
    parser = Collector()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def hourly_prices(n: int, seed: int = 1) -> pd.DataFrame:
    idx = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    close = 1.1 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 5e-4, n)))
    return pd.DataFrame({"open": close, "high": close, "low": close, "close": close}, index=idx)


def make_trades(prices: pd.DataFrame, count: int, name: str = "EURUSD") -> pd.DataFrame:
    idx, close = pd.DatetimeIndex(prices.index), prices["close"].to_numpy()
    entry = np.arange(count) % (len(idx) - 10)
    exit_ = entry + 5
    pnl = (close[exit_] - close[entry]) * 10_000 - 1.0
    return pd.DataFrame(
        {
            "instrument": [name] * count,
            "side": np.where(np.arange(count) % 2 == 0, "long", "short"),
            "quantity": [10_000.0] * count,
            "entry_time": idx[entry].as_unit("ns"),
            "exit_time": idx[exit_].as_unit("ns"),
            "entry_price": close[entry],
            "exit_price": close[exit_],
            "pnl": pnl,
            "commission": [1.0] * count,
            "return_pct": pnl / (close[entry] * 10_000),
            "bars_held": [5] * count,
        },
        columns=list(TRADE_COLUMNS),
    )


def equity_from(prices: pd.DataFrame) -> pd.Series:
    return pd.Series(10_000.0 + (prices["close"].to_numpy() - 1.1) * 5_000, index=prices.index)


def report(
    tmp_path: Path, trades: pd.DataFrame, prices: dict[str, pd.DataFrame], title: str = "Test"
) -> Path:
    equity = equity_from(next(iter(prices.values())))
    metrics = compute_metrics(equity, trades)
    return write_html_report(
        tmp_path / "report.html",
        title=title,
        equity=equity,
        trades=trades,
        prices=prices,
        metrics=metrics,
        params=PARAMS,
    )


def test_report_structure_metrics_and_no_external_resources(tmp_path: Path) -> None:
    prices = {"EURUSD": hourly_prices(2000), "GBPUSD": hourly_prices(2000, seed=2)}
    trades = make_trades(prices["EURUSD"], 12)
    path = report(tmp_path, trades, prices)
    doc = parse(path)
    html = path.read_text(encoding="utf-8")
    assert doc.tags["svg"] == 4  # equity, drawdown, one per instrument
    assert doc.tags.get("link", 0) == 0 and doc.tags.get("img", 0) == 0 and doc.tags.get("iframe", 0) == 0
    for key, value in doc.attrs:
        if key in {"src", "href", "xlink:href", "action"}:
            pytest.fail(f"external reference {key}={value!r}")
    assert "http://" not in html and "https://" not in html and "@import" not in html and "url(" not in html
    text = unescape(" ".join(doc.text))
    metrics = compute_metrics(equity_from(prices["EURUSD"]), trades)
    for spec in METRIC_SPECS:
        assert spec.label in text and spec.key in text, spec.key
        assert format_metric(metrics[spec.key], spec.kind) in text, spec.key
    for key, value in PARAMS.items():
        assert key in text and value in text
    assert "net of the costs" in text
    assert len(re.findall(r'class="mk (?:long|short)"', html)) == 12  # one entry marker per trade
    assert len(re.findall(r'class="mk (?:win|loss)"', html)) == 12  # one exit cross per trade
    assert "2024-01-01T00:00:00+00:00" in text  # period start in the header
    for svg in re.findall(r"<svg.*?</svg>", html, flags=re.S):
        ET.fromstring(svg)  # every chart is well-formed markup


def test_axis_labels_have_dates_and_values(tmp_path: Path) -> None:
    prices = {"EURUSD": hourly_prices(24 * 90)}
    html = report(tmp_path, make_trades(prices["EURUSD"], 3), prices).read_text(encoding="utf-8")
    first_svg = re.findall(r"<svg.*?</svg>", html, flags=re.S)[0]
    x_labels = re.findall(r'class="xlab"[^>]*>([^<]+)<', first_svg)
    y_labels = re.findall(r'class="ylab"[^>]*>([^<]+)<', first_svg)
    assert len(x_labels) >= 3 and all(re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", s) for s in x_labels)
    assert len(y_labels) >= 3 and all(re.fullmatch(r"[\d,]+(\.\d+)?", s) for s in y_labels)


def test_zero_trades(tmp_path: Path) -> None:
    prices = {"EURUSD": hourly_prices(500)}
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in TRADE_COLUMNS})
    path = report(tmp_path, empty, prices)
    text = " ".join(parse(path).text)
    assert "No closed trades" in text and "n/a" in text
    assert parse(path).tags["svg"] == 3


def test_escaping_of_user_text(tmp_path: Path) -> None:
    prices = {"<b>X&Y</b>": hourly_prices(100)}
    trades = make_trades(prices["<b>X&Y</b>"], 2, name="<b>X&Y</b>")
    equity = equity_from(prices["<b>X&Y</b>"])
    path = write_html_report(
        tmp_path / "r.html",
        title="<script>alert(1)</script>",
        equity=equity,
        trades=trades,
        prices=prices,
        metrics=compute_metrics(equity, trades),
        params={"<i>key</i>": 'a < b & "c"'},
    )
    html = path.read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<b>X" not in html and "<i>key" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "a &lt; b &amp; &quot;c&quot;" in html
    assert parse(path).tags["script"] == 1  # only our tooltip script


def test_trades_table_truncated_with_note(tmp_path: Path) -> None:
    prices = {"EURUSD": hourly_prices(3000)}
    trades = make_trades(prices["EURUSD"], MAX_TRADE_ROWS + 37)
    html = report(tmp_path, trades, prices).read_text(encoding="utf-8")
    body = html[html.index("<h2>Trades") :]
    rows = body[: body.index("</table>")].count("<tr>") - 1  # minus the header row
    assert rows == MAX_TRADE_ROWS
    assert f"Showing the first {MAX_TRADE_ROWS:,} of {MAX_TRADE_ROWS + 37:,} trades" in html


def test_one_million_point_equity_is_downsampled_and_fast(tmp_path: Path) -> None:
    n = 1_000_000
    idx = pd.date_range("2020-01-01", periods=n, freq="min", tz="UTC")
    walk = 100_000.0 * np.exp(np.cumsum(np.random.default_rng(5).normal(0, 1e-4, n)))
    walk[n // 2] = walk[n // 2] * 0.5  # a one-bar spike must survive downsampling
    equity = pd.Series(walk, index=idx)
    prices = {"BTCUSD": pd.DataFrame({"open": walk, "high": walk, "low": walk, "close": walk}, index=idx)}
    trades = pd.DataFrame({c: [] for c in TRADE_COLUMNS})
    start = time.perf_counter()
    metrics = compute_metrics(equity, trades)
    path = write_html_report(
        tmp_path / "big.html",
        title="big",
        equity=equity,
        trades=trades,
        prices=prices,
        metrics=metrics,
        params={},
    )
    assert time.perf_counter() - start < 10.0
    html = path.read_text(encoding="utf-8")
    assert len(html) < 3_000_000
    for points in re.findall(r'<polyline class="line" points="([^"]+)"', html):
        assert len(points.split()) <= 3000
    eq_svg = re.findall(r"<svg.*?</svg>", html, flags=re.S)[0]
    values = [float(v) for v in re.search(r'data-v="\[([^\]]+)\]"', eq_svg).group(1).split(",")]  # type: ignore[union-attr]
    assert min(values) == pytest.approx(walk.min(), rel=1e-9)
    assert max(values) == pytest.approx(walk.max(), rel=1e-9)


def test_downsample_minmax_keeps_extremes_in_order() -> None:
    rng = np.random.default_rng(0)
    x = np.arange(100_001, dtype=np.int64)
    y = rng.normal(size=x.size)
    xs, ys = downsample_minmax(x, y, 1000)
    assert len(xs) <= 1000 and xs[0] == 0 and xs[-1] == 100_000
    assert bool(np.all(np.diff(xs) > 0))
    assert ys.min() == y.min() and ys.max() == y.max()
    assert np.array_equal(ys, y[xs])
    _, same_y = downsample_minmax(x[:10], y[:10], 1000)
    assert np.array_equal(same_y, y[:10])


def test_axis_helpers() -> None:
    lo, hi, ticks = value_axis(-0.237, 0.0)
    assert lo < -0.237 and hi > 0.0 and 0.0 in ticks and all(lo <= t <= hi for t in ticks)
    lo, hi, ticks = value_axis(5.0, 5.0)
    assert lo < 5.0 < hi and len(ticks) >= 2
    t0 = int(pd.Timestamp("2023-01-02 05:00", tz="UTC").value)
    t1 = int(pd.Timestamp("2024-12-30", tz="UTC").value)
    labels = [label for _, label in time_ticks(t0, t1)]
    assert labels[0] == "2023-04" and labels[-1] == "2024-10" and len(labels) == 7
    day = time_ticks(t0, t0 + 6 * 3600 * 10**9)
    assert [label for _, label in day][:2] == ["05:00", "06:00"]

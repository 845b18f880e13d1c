"""OANDA v20 candles importer: the JSON of GET /v3/instruments/{instrument}/candles (one page or a list)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from traderbot.data.importers._common import check_readable, finish_import, refuse_bad_rows
from traderbot.data.quality import BadRow, QualityReport
from traderbot.data.store import normalize_instrument, parse_timeframe
from traderbot.errors import UserError
from traderbot.model.instrument import Instrument

PRICE_COMPONENTS = ("mid", "bid", "ask")


def _load_pages(path: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(
            f"{path.name} is not valid JSON ({exc}); save the API response body as it was sent"
        ) from exc
    pages = doc if isinstance(doc, list) else [doc]
    if not pages or not all(isinstance(p, dict) and isinstance(p.get("candles"), list) for p in pages):
        raise UserError(
            f"{path.name} is not an OANDA candles response; expected an object with a 'candles' list "
            "(or a list of such objects)"
        )
    return pages


def _page_meta(pages: list[dict[str, Any]], source: str) -> tuple[str | None, str | None]:
    names = {str(p["instrument"]) for p in pages if p.get("instrument")}
    grans = {str(p["granularity"]) for p in pages if p.get("granularity")}
    if len(names) > 1 or len(grans) > 1:
        raise UserError(
            f"{source} mixes instruments or granularities ({names | grans}); import one series per file"
        )
    return (names.pop() if names else None), (grans.pop() if grans else None)


def _parse_time(value: Any) -> int | None:
    """UNIX ('1551398400.000000000' or a number) or RFC3339 time -> UTC ns; None when unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(float(value) * 1e9) if math.isfinite(value) else None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if "T" not in text:
        sec, _, frac = text.partition(".")
        if not sec.isdigit() or (frac and not frac.isdigit()):
            return None
        return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])
    try:
        return int(pd.Timestamp(text).tz_convert("UTC").as_unit("ns").value)
    except (ValueError, TypeError):
        return None


def _parse_candle(c: Any, component: str) -> tuple[list[float], str | None]:
    if not isinstance(c, dict):
        return [], "is not an object"
    prices = c.get(component)
    if not isinstance(prices, dict):
        return [], f"has no {component!r} prices"
    try:
        ohlc = [float(prices[k]) for k in ("o", "h", "l", "c")]
    except (KeyError, TypeError, ValueError):
        return [], f"{component} prices {prices!r} are not four numbers o/h/l/c"
    volume = c.get("volume", 0)
    if not all(math.isfinite(x) for x in ohlc) or not isinstance(volume, int | float):
        return [], f"{component} prices {prices!r} or volume {volume!r} are not finite numbers"
    return [*ohlc, float(volume)], None


def _candles(
    pages: list[dict[str, Any]], component: str
) -> tuple[list[int], list[list[float]], list[BadRow], int]:
    stamps: list[int] = []
    rows: list[list[float]] = []
    bad: list[BadRow] = []
    incomplete = 0
    n = 0
    for page in pages:
        for c in page["candles"]:
            n += 1
            if isinstance(c, dict) and c.get("complete") is False:
                incomplete += 1
                continue
            t = _parse_time(c.get("time")) if isinstance(c, dict) else None
            values, problem = _parse_candle(c, component)
            if t is None and problem is None:
                problem = f"time {c.get('time')!r} is neither RFC3339 nor UNIX time"
            if problem or t is None:
                bad.append(BadRow(f"candle {n}", problem or "is unreadable"))
                continue
            stamps.append(t)
            rows.append(values)
    return stamps, rows, bad, incomplete


def _available(pages: list[dict[str, Any]]) -> list[str]:
    found = {
        k for p in pages for c in p["candles"][:50] if isinstance(c, dict) for k in PRICE_COMPONENTS if k in c
    }
    return [k for k in PRICE_COMPONENTS if k in found]


def import_oanda(
    path: Path | str,
    *,
    price: str = "mid",
    skip_bad_rows: bool = False,
    instrument: Instrument | str | None = None,
    timeframe: str | None = None,
    calendar: str | None = None,
) -> tuple[pd.DataFrame, QualityReport]:
    """Import complete candles using the `price` component (mid, bid or ask); incomplete ones are skipped."""
    p = check_readable(Path(path))
    component = price.strip().lower()
    if component not in PRICE_COMPONENTS:
        raise UserError(f"unknown OANDA price component {price!r}; use mid, bid or ask")
    pages = _load_pages(p)
    name, granularity = _page_meta(pages, p.name)
    has = _available(pages)
    if has and component not in has:
        raise UserError(
            f"{p.name} has no {component!r} prices (it has {', '.join(has)}); choose one with --price"
        )
    inst_id = instrument.id if isinstance(instrument, Instrument) else instrument
    if inst_id and name and normalize_instrument(inst_id) != normalize_instrument(name):
        raise UserError(
            f"{p.name} holds {name} candles, not {inst_id}; pass --instrument {normalize_instrument(name)}"
        )
    tf = _timeframe(granularity, timeframe, p.name)
    stamps, rows, bad, incomplete = _candles(pages, component)
    refuse_bad_rows(bad, skip=skip_bad_rows, source=p.name)
    values = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    notes = [f"OANDA {component} prices"]
    if incomplete:
        notes.append(f"skipped {incomplete} incomplete candle(s)")
    arrays = (np.asarray(stamps, dtype=np.int64), *(values[:, i] for i in range(5)))
    return finish_import(
        arrays,
        source=p.name,
        instrument=instrument or (normalize_instrument(name) if name else None),
        timeframe=tf,
        calendar=calendar,
        bad_rows=bad,
        notes=notes,
    )


def _timeframe(granularity: str | None, timeframe: str | None, source: str) -> str | None:
    if granularity is None:
        return timeframe
    try:
        gran_tf = parse_timeframe(granularity).name
    except UserError as exc:
        raise UserError(
            f"{source} has granularity {granularity!r}, which traderbot cannot store; use S5..D"
        ) from exc
    if timeframe and parse_timeframe(timeframe).name != gran_tf:
        raise UserError(
            f"{source} holds {granularity} candles but --timeframe is {timeframe}; pass --timeframe {gran_tf}"
        )
    return gran_tf

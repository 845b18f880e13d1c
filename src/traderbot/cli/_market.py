"""Shared CLI plumbing: load bars for pairs or a file, and turn cost/fill/sizing flags into settings."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandas as pd

from traderbot.brokers.sim.costs import (
    CommissionModel,
    FinancingModel,
    FixedSlippage,
    NoSlippage,
    SpreadModel,
    VenueConfig,
)
from traderbot.data.series import BarSeries
from traderbot.errors import UserError
from traderbot.model.instrument import Instrument, generic_instrument, get_instrument
from traderbot.risk.sizing import Sizing


@dataclass
class MarketData:
    pairs: list[tuple[Instrument, BarSeries]]
    extra: list[tuple[Instrument, BarSeries]]
    notes: list[str]


def dec(text: str | float | None, flag: str, *, minimum: Decimal = Decimal(0)) -> Decimal:
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        raise UserError(f"{flag} {text!r} is not a number: pass e.g. {flag} 0.5") from None
    if not value.is_finite() or value < minimum:
        raise UserError(f"{flag} must be a finite number >= {minimum}, got {text}")
    return value


def venue_config(
    *,
    fill: str,
    spread_pips: str,
    commission_pct: str,
    commission_per_unit: str = "0",
    commission_per_order: str = "0",
    commission_min: str = "0",
    slippage_pips: str = "0",
    price_side: str = "bid",
    financing_long: str = "0",
    financing_short: str = "0",
) -> VenueConfig:
    if fill not in {"next_open", "close"}:
        raise UserError(f"--fill {fill!r} is not valid: use next_open or close")
    if price_side not in {"bid", "mid"}:
        raise UserError(f"--price-side {price_side!r} is not valid: use bid or mid")
    slip = dec(slippage_pips, "--slippage-pips")
    return VenueConfig(
        fill_on=fill,
        spread=SpreadModel(dec(spread_pips, "--spread-pips"), price_side),
        slippage=FixedSlippage(slip) if slip > 0 else NoSlippage(),
        commission=CommissionModel(
            per_unit=dec(commission_per_unit, "--commission-per-unit"),
            pct_notional=dec(commission_pct, "--commission-pct") / 100,
            per_order=dec(commission_per_order, "--commission-per-order"),
            minimum=dec(commission_min, "--commission-min"),
        ),
        financing=FinancingModel(
            long_rate=dec(financing_long, "--financing-long", minimum=Decimal(-100)) / 100,
            short_rate=dec(financing_short, "--financing-short", minimum=Decimal(-100)) / 100,
        ),
    )


def with_realism(
    venue: VenueConfig,
    *,
    slippage: str | None = None,
    participation: str | None = None,
    latency_ms: str | None = None,
    enforce_market_hours: bool = False,
    check_precision: bool = False,
) -> VenueConfig:
    """The event engine's realism options on top of the cost flags (all off unless asked for)."""
    from dataclasses import replace

    from traderbot.brokers.sim.costs import parse_slippage
    from traderbot.brokers.sim.latency import LatencyModel

    changes: dict[str, Any] = {
        "enforce_market_hours": enforce_market_hours,
        "check_precision": check_precision,
    }
    if slippage:
        changes["slippage"] = parse_slippage(slippage)
    if participation:
        changes["participation"] = dec(participation, "--participation")
    if latency_ms:
        parts = [p.strip() for p in latency_ms.split(",")]
        if not 1 <= len(parts) <= 3:
            raise UserError(f"--latency-ms {latency_ms!r} is not valid: use SUBMIT[,CANCEL[,JITTER]] in ms")
        vals = [dec(p, "--latency-ms") for p in parts]
        jitter = vals[2] if len(vals) > 2 else Decimal(0)
        changes["latency"] = LatencyModel(vals[0], vals[1] if len(vals) > 1 else vals[0], jitter)
    return replace(venue, **changes)


VENUE_FLAGS = (
    "fill",
    "spread_pips",
    "commission_pct",
    "commission_per_unit",
    "commission_per_order",
    "commission_min",
    "slippage_pips",
    "price_side",
    "financing_long",
    "financing_short",
)


def venue_from_flags(flags: dict[str, Any]) -> VenueConfig:
    """The venue settings from a command's cost/fill options (the ones named in VENUE_FLAGS that it has)."""
    return venue_config(**{k: flags[k] for k in VENUE_FLAGS if k in flags})


def _when(text: str | None, flag: str) -> int | None:
    if not text:
        return None
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise UserError(f"{flag} {text!r} is not a date: use YYYY-MM-DD or an ISO timestamp") from None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.as_unit("ns").value)


def _cut(series: BarSeries, start: int | None, end: int | None, what: str) -> BarSeries:
    out = series.slice_time(start, end)
    if len(out) == 0:
        first = pd.Timestamp(int(series.ts[0]), tz="UTC")
        last = pd.Timestamp(int(series.ts[-1]), tz="UTC")
        raise UserError(
            f"no bars for {what} in the chosen range: the data spans {first} .. {last}; fix --from/--to"
        )
    return out


def load_market(
    pairs: list[str],
    timeframe: str | None,
    data_file: Path | None,
    start: str | None,
    end: str | None,
    lot_size: str | None,
    account_currency: str | None,
    store_dir: Path | None = None,
    drop_nan: bool = False,
) -> MarketData:
    """Bars for `--pair` ids from the store (plus FX conversion pairs when needed) or for `--data FILE`."""
    t0, t1 = _when(start, "--from"), _when(end, "--to")
    if t0 is not None and t1 is not None and t1 < t0:
        raise UserError("--to is before --from: give a range that moves forward in time")
    notes: list[str] = []
    if data_file is not None:
        if pairs:
            raise UserError("give either --data FILE or --pair, not both")
        from traderbot.data.loader import load_ohlcv_file

        df, report = load_ohlcv_file(data_file, timeframe=timeframe, drop_nan=drop_nan)
        notes.extend(_file_notes(Path(data_file).name, report))
        lot = dec(lot_size, "--lot-size") if lot_size else Decimal(0)
        inst = generic_instrument(Path(data_file).stem.upper()[:16] or "DATA", account_currency or "USD", lot)
        tf = timeframe or _infer_tf(df)
        series = _cut(BarSeries.from_frame(df, inst.id, tf), t0, t1, str(data_file))
        return MarketData([(inst, series)], [], notes)
    if not pairs:
        raise UserError("no data given: pass --pair ID (repeatable) or --data FILE")
    from traderbot.data.stores import open_stores

    store = open_stores(store_dir)
    out: list[tuple[Instrument, BarSeries]] = []
    for pid in pairs:
        inst = get_instrument(pid)
        if lot_size:
            inst = inst.with_lot_size(dec(lot_size, "--lot-size"))
        tf = timeframe or _finest(store, inst.id)
        if not store.has(inst.id, tf):
            raise UserError(store.missing_message(inst.id, tf))
        df = store.read(inst.id, tf)
        out.append((inst, _cut(BarSeries.from_frame(df, inst.id, tf), t0, t1, f"{inst.id} {tf}")))
    extra = _conversions(store, out, account_currency, t0, t1)
    return MarketData(out, extra, notes)


def _file_notes(name: str, report: object) -> list[str]:
    """One line per thing the loader fixed or found in a --data file (printed to stderr by the CLI)."""
    r = report
    found = [
        (getattr(r, "out_of_order", 0), "rows were out of order and have been sorted"),
        (getattr(r, "duplicates", 0), "duplicate timestamps were removed (the last row kept)"),
        (len(getattr(r, "bad_rows", [])), "rows with missing prices were dropped (--drop-nan)"),
        (getattr(r, "high_below_low", 0), "bars have high < low"),
        (getattr(r, "non_positive", 0), "bars have a non-positive price"),
        (getattr(r, "suspect_spikes", 0), "bars look like bad-tick spikes"),
    ]
    return [f"{name}: {n} {what}" for n, what in found if n]


def _finest(store: object, instrument_id: str) -> str:
    entries = [e for e in store.list() if e.instrument == instrument_id]  # type: ignore[attr-defined]
    if not entries:
        raise UserError(
            f"no data for {instrument_id} in the store or the sample data: import it with "
            f"'traderbot data import FILE --instrument {instrument_id} --timeframe TF'"
        )
    from traderbot.model.timeframe import Timeframe

    return min((e.timeframe for e in entries), key=lambda t: Timeframe.parse(t).ns)


def _conversions(
    store: object,
    pairs: list[tuple[Instrument, BarSeries]],
    account: str | None,
    t0: int | None,
    t1: int | None,
) -> list[tuple[Instrument, BarSeries]]:
    quotes = {inst.quote for inst, _ in pairs}
    acc = account or (next(iter(quotes)) if len(quotes) == 1 else "USD")
    loaded = {inst.id for inst, _ in pairs}
    extra: list[tuple[Instrument, BarSeries]] = []
    for q in sorted(quotes - {acc}):
        for cand in (q + acc, acc + q):
            if cand in loaded:
                break
            tf = pairs[0][1].timeframe.name
            if store.has(cand, tf):  # type: ignore[attr-defined]
                df = store.read(cand, tf)  # type: ignore[attr-defined]
                extra.append((get_instrument(cand), BarSeries.from_frame(df, cand, tf).slice_time(t0, t1)))
                break
        else:
            raise UserError(
                f"P&L in {q} needs a {q}/{acc} rate: import {q}{acc} or {acc}{q} at {pairs[0][1].timeframe}, "
                f"or pass --account-currency {q}"
            )
    return extra


def _infer_tf(df: pd.DataFrame) -> str:
    if len(df) < 2:
        return "1d"
    from traderbot.model.timeframe import Timeframe

    step = pd.Series(df["ts"]).diff().dropna().median()
    seconds = int(pd.Timedelta(step).total_seconds())
    for name in ("1m", "5m", "15m", "30m", "1h", "4h", "1d"):
        if Timeframe.parse(name).seconds >= seconds:
            return name
    return "1d"


def sizing(text: str) -> Sizing:
    return Sizing.parse(text)

"""The market-data cache on real HistData EURUSD minute bars (../shared/data), with their known defects:
whole missing hours Feb-Jul 2023, Good Friday and Christmas closures (see ../shared/data/README.md)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from traderbot.data import cache_manifest
from traderbot.data.cache_repair import StoreCandleSource, repair
from traderbot.data.cache_validate import CacheConfig, validate
from traderbot.data.market_cache import MarketDataCache
from traderbot.data.store import ParquetBarStore

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
EURUSD = DATA / "histdata_fx_m1" / "EURUSD_1m.parquet"
HOUR = 3_600_000_000_000


def ns(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value)


def real_bars(start: str, end: str) -> pd.DataFrame:
    """Real EURUSD 1m bars with start <= ts < end; fails (never skips) when the shared data is missing."""
    if not EURUSD.is_file():
        pytest.fail(f"real data {EURUSD} is missing: mount the shared data next to the repository")
    filters = [("ts", ">=", pd.Timestamp(start, tz="UTC")), ("ts", "<", pd.Timestamp(end, tz="UTC"))]
    return pq.read_table(EURUSD, filters=filters).to_pandas()


def cached(tmp_path: Path, start: str, end: str, name: str = "cache") -> ParquetBarStore:
    """A tmp store holding the real slice, written and checksummed as the cache would."""
    store = ParquetBarStore(tmp_path / name)
    cache_manifest.record(store.write("EURUSD", "1m", real_bars(start, end)))
    return store


def test_may_2023_is_invalid_and_names_the_missing_whole_hours(tmp_path: Path) -> None:
    store = cached(tmp_path, "2023-05-03", "2023-05-10 12:00")
    health = validate(store.path_for("EURUSD", "1m"), "EURUSD", "1m", ns("2023-05-10 12:00"))

    assert not health.valid and health.checksum == "ok"
    assert health.missing_bars > 1500 and health.expected_bars == 7200  # five FX days of 1440 minutes
    assert "bars missing in the last 7 days" in health.reasons[0] and "% > 2.0 %" in health.reasons[0]
    assert "2023-05-03 13:00 .. 14:00 UTC (60 min)" in health.reasons[0]
    holes = next(r for r in health.reasons if "hole(s) longer than the allowed 30 min" in r)
    assert "2023-05-03 15:00 .. 16:00 UTC" in holes
    hour_holes = [(s, e) for s, e in health.missing_spans if e - s >= HOUR]
    assert len(hour_holes) >= 30 and all(s % HOUR == 0 and e % HOUR == 0 for s, e in hour_holes)
    assert (ns("2023-05-09 23:00"), ns("2023-05-10 00:00")) in hour_holes
    assert any(r.startswith("stale: the last bar closed at 2023-05-10 11:00 UTC") for r in health.reasons)


def test_august_2023_is_valid_with_a_complete_window(tmp_path: Path) -> None:
    store = cached(tmp_path, "2023-08-09", "2023-08-16 12:00")
    health = validate(store.path_for("EURUSD", "1m"), "EURUSD", "1m", ns("2023-08-16 12:00"))

    assert health.valid and health.checksum == "ok" and health.failures == []
    assert health.last_bar_ns == ns("2023-08-16 11:59") and 0 < health.missing_bars < 100
    assert 95.0 <= health.score < 100.0  # the few 1-6 minute tick gaps cost a little
    assert health.reasons[0].startswith("32 of 7,200 bars missing in the last 7 days (0.4 % <= 2.0 %)")


def test_after_good_friday_the_holiday_is_not_missing_but_the_hour_holes_are(tmp_path: Path) -> None:
    store = cached(tmp_path, "2023-04-03", "2023-04-10 12:00")
    path, now = store.path_for("EURUSD", "1m"), ns("2023-04-10 12:00")

    health = validate(path, "EURUSD", "1m", now)
    without_holidays = validate(path, "EURUSD", "1m", now, CacheConfig(fx_holidays=()))

    assert not health.valid  # the Feb-Jul whole-hour holes are still there
    assert (
        health.expected_bars == without_holidays.expected_bars - 1440
    )  # Good Friday's FX day is not asked for
    good_friday = (ns("2023-04-06 21:00"), ns("2023-04-07 21:00"))  # 17:00 .. 17:00 New York (EDT)
    assert not any(s < good_friday[1] and e > good_friday[0] for s, e in health.missing_spans)
    assert any(s == ns("2023-04-07 00:00") for s, _ in without_holidays.missing_spans)


def test_christmas_closure_is_not_missing_when_christmas_is_a_configured_fx_holiday(tmp_path: Path) -> None:
    store = cached(tmp_path, "2023-12-20", "2023-12-27 12:00")
    path, now = store.path_for("EURUSD", "1m"), ns("2023-12-27 12:00")

    health = validate(path, "EURUSD", "1m", now)
    strict = validate(path, "EURUSD", "1m", now, CacheConfig(fx_holidays=()))

    assert health.valid, health.reasons
    assert not strict.valid and "2023-12-25 07:59 .. 22:04 UTC" in strict.reasons[0]


def test_repair_from_the_real_reference_fills_deleted_hours(tmp_path: Path) -> None:
    reference = cached(tmp_path, "2023-08-01", "2023-08-20", name="reference")
    full = real_bars("2023-08-09 12:00", "2023-08-16 12:00")  # exactly the 7-day window
    holed = full[~full["ts"].dt.hour.isin([3, 9, 14])].reset_index(drop=True)
    store = ParquetBarStore(tmp_path / "cache")
    cache_manifest.record(store.write("EURUSD", "1m", holed))
    now = ns("2023-08-16 12:00")

    result = asyncio.run(repair(store, "EURUSD", "1m", StoreCandleSource(reference), now))

    assert not result.before.valid and result.action == "repaired" and result.after.valid
    assert result.filled == len(full) - len(holed) and result.quarantined is None
    repaired = store.read("EURUSD", "1m")
    pd.testing.assert_frame_equal(repaired, full)
    assert cache_manifest.check(store.path_for("EURUSD", "1m")) == "ok"


def test_repair_of_a_truncated_file_refetches_it_and_keeps_the_old_bytes(tmp_path: Path) -> None:
    reference = cached(tmp_path, "2023-08-01", "2023-08-20", name="reference")
    store = cached(tmp_path, "2023-08-09", "2023-08-16 12:00")
    path = store.path_for("EURUSD", "1m")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    truncated = path.read_bytes()

    result = asyncio.run(repair(store, "EURUSD", "1m", StoreCandleSource(reference), ns("2023-08-16 12:00")))

    assert result.before.checksum == "unreadable" and result.action == "repaired" and result.after.valid
    assert result.after.checksum == "ok" and result.quarantined is not None
    assert result.quarantined.parent == tmp_path / "cache" / "quarantine"
    assert result.quarantined.read_bytes() == truncated
    pd.testing.assert_frame_equal(store.read("EURUSD", "1m"), real_bars("2023-08-09", "2023-08-16 12:00"))


def test_a_source_without_the_span_leads_to_quarantine_and_loses_no_good_bar(tmp_path: Path) -> None:
    reference = cached(tmp_path, "2023-05-01", "2023-05-11", name="reference")  # has the same holes
    store = cached(tmp_path, "2023-05-03", "2023-05-10 12:00")
    path = store.path_for("EURUSD", "1m")
    original, before_rows = path.read_bytes(), store.read("EURUSD", "1m")

    result = asyncio.run(repair(store, "EURUSD", "1m", StoreCandleSource(reference), ns("2023-05-10 12:00")))

    assert result.action == "quarantined" and not result.after.valid
    assert result.quarantined is not None and result.quarantined.read_bytes() == original
    assert result.quarantined.name.startswith("EURUSD_1m.") and result.quarantined.suffix == ".parquet"
    reason = result.quarantined.with_name(result.quarantined.stem + ".reason.txt").read_text()
    assert "still invalid after a repair from store" in reason and "bars missing" in reason
    pd.testing.assert_frame_equal(store.read("EURUSD", "1m"), before_rows)  # every good bar still cached
    assert hashlib.sha256(original).hexdigest() == cache_manifest.load(result.quarantined).sha256  # type: ignore[union-attr]


def test_facade_reports_a_valid_pair_turning_invalid_once(tmp_path: Path) -> None:
    store = cached(tmp_path, "2023-08-09", "2023-08-16 12:00")
    clock = [ns("2023-08-16 12:00")]
    calls: list[tuple[str, str]] = []
    cache = MarketDataCache(
        store, CacheConfig(), lambda: clock[0], on_invalid=lambda p, r: calls.append((p, r))
    )

    assert cache.invalid_reason("EURUSD") is None
    clock[0] = ns("2023-08-16 13:00")  # an hour later without a refresh: stale
    reason = cache.invalid_reason("EURUSD")

    assert reason is not None and "stale: the last bar closed at 2023-08-16 12:00 UTC" in reason
    assert calls == [("EURUSD", reason)]
    cache.validate("EURUSD")
    assert len(calls) == 1  # still invalid: no second transition


def test_refresh_appends_from_the_last_bar_to_now_and_makes_the_pair_valid(tmp_path: Path) -> None:
    reference = cached(tmp_path, "2023-08-01", "2023-08-20", name="reference")
    store = cached(tmp_path, "2023-08-09", "2023-08-14 12:00")
    cache = MarketDataCache(store, CacheConfig(), lambda: ns("2023-08-16 12:00"))
    assert cache.invalid_reason("EURUSD") is not None

    (result,) = asyncio.run(cache.refresh(["EURUSD"], "1m", StoreCandleSource(reference)))

    assert result.appended == len(real_bars("2023-08-14 12:00", "2023-08-16 12:00"))
    assert result.last_bar_ns == ns("2023-08-16 11:59")
    assert cache.validate("EURUSD").valid and cache.validate("EURUSD").checksum == "ok"

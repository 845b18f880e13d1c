"""The intraday volume profile (learned only from bars closed before the algorithm starts, from complete earlier
sessions) and VWAP in the kernel: slice sizes follow the profile, changing future bars changes nothing, the
participation cap holds, and a window or data without volume is refused."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.sim_harness import scripted

from traderbot.data.series import BarSeries
from traderbot.data.store import ParquetBarStore
from traderbot.execution.algos import (
    VWAP,
    AlgoRefusal,
    AlgoStatus,
    NoVolumeProfile,
    ParentOrder,
    VolumeProfile,
)
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderType
from traderbot.model.instrument import get_instrument
from traderbot.risk.sizing import Sizing

HOUR = 3_600_000_000_000
DAY = 24 * HOUR
D0 = pd.Timestamp("2024-03-04", tz="UTC").value  # a Monday
SHAPE = {9: 400.0, 10: 300.0, 11: 200.0, 12: 100.0}  # volume by UTC hour; zero at other hours
SPY = get_instrument("SPY")


def hourly(days: int, volume: dict[int, dict[int, float]] | None = None) -> BarSeries:
    """`days` days of hourly SPY bars; volume[day][hour] overrides the default SHAPE (scaled by the day)."""
    ts = D0 + np.arange(days * 24, dtype=np.int64) * HOUR
    vol = np.array([SHAPE.get(i % 24, 0.0) * (1 + i // 24) for i in range(days * 24)])
    for d, hours in (volume or {}).items():
        for h, v in hours.items():
            vol[d * 24 + h] = v
    px = 100 + np.arange(days * 24) * 0.01
    return BarSeries.from_arrays("SPY", "1h", ts, px, px + 0.05, px - 0.05, px, vol)


def learn(s: BarSeries, before: int, **kw: Any) -> VolumeProfile:
    return VolumeProfile.learn(s.ts, s.volume, s.timeframe.ns, before_ns=before, bucket_ns=HOUR, **kw)


# ---- the profile -----------------------------------------------------------------------------------------------
def test_the_profile_is_the_average_share_of_each_sessions_volume_per_time_of_day() -> None:
    # day 0 trades only at 10:00, day 1 only at 12:00: each bucket holds half of the average day
    s = hourly(3, {0: {9: 0, 11: 0, 12: 0}, 1: {9: 0, 10: 0, 11: 0}})
    p = learn(s, D0 + 2 * DAY)
    assert p.sessions == 2 and p.last_bar_close_ns == D0 + DAY + 13 * HOUR
    assert p.shares[10] == pytest.approx(0.5) and p.shares[12] == pytest.approx(0.5)
    assert sum(p.shares) == pytest.approx(1.0)
    default = learn(hourly(3), D0 + 3 * DAY)  # every day has SHAPE (scaled): shares are SHAPE / 1000
    assert [default.shares[h] for h in (9, 10, 11, 12)] == pytest.approx([0.4, 0.3, 0.2, 0.1])


def test_only_the_last_n_complete_sessions_before_the_cut_off_are_used() -> None:
    s = hourly(4, {2: {9: 0, 10: 1000, 11: 0, 12: 0}, 3: {9: 0, 10: 0, 11: 0, 12: 5000}})
    p = learn(s, D0 + 3 * DAY + 11 * HOUR, sessions=1)  # day 3 has begun: it is incomplete, not a session
    assert p.sessions == 1 and p.shares[10] == pytest.approx(1.0)
    assert learn(s, D0 + 3 * DAY + 11 * HOUR, sessions=20).sessions == 3


def test_no_look_ahead_future_bars_change_nothing() -> None:
    s = hourly(6)
    cut = D0 + 3 * DAY + 9 * HOUR
    base = learn(s, cut)
    n = int(np.searchsorted(s.ts + s.timeframe.ns, cut, side="right"))
    truncated = BarSeries.from_arrays(
        "SPY", "1h", s.ts[:n], s.open[:n], s.high[:n], s.low[:n], s.close[:n], s.volume[:n]
    )
    rng = np.random.default_rng(3)
    future = s.volume.copy()
    future[n:] = rng.uniform(0, 1e6, len(s) - n)  # anything at all after the cut-off
    perturbed = BarSeries.from_arrays("SPY", "1h", s.ts, s.open, s.high, s.low, s.close, future)
    assert learn(truncated, cut) == base == learn(perturbed, cut)
    assert base.last_bar_close_ns <= cut


def test_mass_integrates_the_profile_over_any_interval() -> None:
    p = learn(hourly(3), D0 + 3 * DAY)
    day = D0 + 5 * DAY
    assert p.mass(day + 9 * HOUR, day + 10 * HOUR) == pytest.approx(0.4)
    assert p.mass(day + 9 * HOUR + HOUR // 2, day + 11 * HOUR + HOUR // 2) == pytest.approx(0.2 + 0.3 + 0.1)
    assert p.mass(day, day + DAY) == pytest.approx(1.0) and p.mass(day, day + 2 * DAY) == pytest.approx(2.0)
    assert p.mass(day + 13 * HOUR, day + 20 * HOUR) == 0.0


def test_a_time_zone_places_sessions_on_the_local_clock() -> None:
    s = hourly(3)  # volume at 09..12 UTC = 04..07 in New York (EST until 10 March 2024)
    p = learn(s, D0 + 3 * DAY, tz="America/New_York")
    assert [p.shares[h] for h in (4, 5, 6, 7)] == pytest.approx([0.4, 0.3, 0.2, 0.1])
    assert p.mass(D0 + 4 * DAY + 9 * HOUR, D0 + 4 * DAY + 10 * HOUR) == pytest.approx(0.4)


def test_bars_without_volume_give_no_profile() -> None:
    s = hourly(3)
    flat = BarSeries.from_arrays("SPY", "1h", s.ts, s.open, s.high, s.low, s.close, np.zeros(len(s)))
    with pytest.raises(NoVolumeProfile, match="HistData FX minute files have volume 0"):
        learn(flat, D0 + 3 * DAY)


def test_a_profile_can_be_learned_from_the_bar_store(tmp_path: Path) -> None:
    store = ParquetBarStore(tmp_path)
    s = hourly(4)
    store.write("SPY", "1h", s.to_frame())
    p = VolumeProfile.from_store(store, "SPY", "1h", before_ns=D0 + 3 * DAY, bucket_ns=HOUR)
    assert p == learn(s, D0 + 3 * DAY)


# ---- VWAP in the kernel ----------------------------------------------------------------------------------------
def run_vwap(series: BarSeries, algo: VWAP, at_bar: int = 3 * 24 + 8) -> tuple[Kernel, ParentOrder]:
    """Submit `algo` (buy 1000) when bar `at_bar` closes (default: day 3, 09:00)."""
    k = Kernel(account_currency="USD", starting_cash=D(10_000_000))
    k.finite_replay = True
    k.add_data(SPY, series)
    k.add_strategy(scripted({at_bar: lambda s: s.buy(1000, algo=algo)})(), "SPY", Sizing.parse("units:1"))
    k.run()
    (p,) = k.algos.parents.values()
    return k, p


def schedule(k: Kernel, p: ParentOrder) -> list[tuple[int, D, str]]:
    return [
        (k.cache.orders[c].ts_init, k.cache.orders[c].quantity, k.cache.orders[c].type.value)
        for c in p.child_ids
    ]


def test_slices_follow_the_learned_profile() -> None:
    k, p = run_vwap(hourly(5), VWAP("4h", 4, bucket="1h"))
    start = D0 + 3 * DAY + 9 * HOUR
    assert schedule(k, p) == [(start + i * HOUR, D(q), "market") for i, q in enumerate((400, 300, 200, 100))]
    assert p.status is AlgoStatus.FILLED and (p.start_ns, p.end_ns) == (start, start + 4 * HOUR)


def test_the_window_is_normalised_and_slices_may_split_buckets() -> None:
    # 10:30 .. 12:30 in 2 one-hour slices: masses 0.15 + 0.1 and 0.1 + 0.05 of 0.4 -> 625, 375
    start = D0 + 3 * DAY + 10 * HOUR + HOUR // 2
    k, p = run_vwap(hourly(5), VWAP("2h", 2, bucket="1h", start=start))
    assert [(t, q) for t, q, _ in schedule(k, p)] == [(start, D(625)), (start + HOUR, D(375))]


def test_slices_finer_than_the_bars_merge_into_one_child_per_bar() -> None:
    # 4 half-hour slices on hourly bars: the 11:00 slice's market child still waits for the 11:00 bar when the
    # 11:30 slice comes, so it is canceled and its 250 carried into that slice; likewise the 12:00 slice is
    # canceled by the end at 12:30 and swept: one filled child per bar
    start = D0 + 3 * DAY + 10 * HOUR + HOUR // 2
    k, p = run_vwap(hourly(5), VWAP("2h", 4, bucket="1h", start=start))
    kids = [k.cache.orders[c] for c in p.child_ids]
    assert [(c.quantity, c.filled_qty) for c in kids] == [
        (375, 375),
        (250, 0),
        (500, 500),
        (125, 0),
        (125, 125),
    ]
    assert p.status is AlgoStatus.FILLED and p.filled_qty == D(1000)


def test_vwap_decisions_do_not_change_when_bars_after_the_submission_change() -> None:
    algo = VWAP("4h", 4, bucket="1h")
    base = schedule(*run_vwap(hourly(5), algo))
    wild = {3: {h: 10.0**h for h in range(9, 24)}, 4: {h: 7.0 for h in range(24)}}  # day 3 after 09:00, day 4
    assert schedule(*run_vwap(hourly(5, wild), algo)) == base
    today = {3: {h: 1e9 for h in range(0, 9)}}  # bars of the start day before the start: not a full session
    assert schedule(*run_vwap(hourly(5, today), algo)) == base


def test_the_participation_cap_limits_each_slice_to_a_share_of_the_last_intervals_volume() -> None:
    k, p = run_vwap(hourly(5), VWAP("4h", 4, bucket="1h", max_participation="0.1"))
    vol = {h: SHAPE[h] * 4 for h in SHAPE}  # day 3 volumes (scaled by 1 + day)
    got = schedule(k, p)
    # 09:00: the 08:00 bar traded 0 -> nothing; 10:00: 10 % of 1600; 11:00: of 1200; 12:00: of 800; then the sweep
    assert [q for _, q, _ in got] == [D(160), D(120), D(80), D(640)]
    assert [q / D(vol[h - 1]) for (_, q, _), h in zip(got[:3], (10, 11, 12), strict=True)] == [D("0.1")] * 3
    assert got[-1][2] == OrderType.MARKET.value and got[-1][0] == D0 + 3 * DAY + 13 * HOUR
    assert p.status is AlgoStatus.FILLED


@pytest.mark.parametrize(
    ("series", "algo", "code"),
    [
        (
            hourly(5),
            VWAP("3h", 3, bucket="1h", start=D0 + 3 * DAY + 14 * HOUR),
            AlgoRefusal.NO_VOLUME_IN_WINDOW,
        ),
        (
            BarSeries.from_arrays("SPY", "1h", hourly(5).ts, *(hourly(5).close,) * 4, np.zeros(120)),
            VWAP("3h", bucket="1h"),
            AlgoRefusal.NO_VOLUME_PROFILE,
        ),
        (
            hourly(5),
            VWAP("3h", bucket="1h", profile=learn(hourly(5), D0 + 5 * DAY)),
            AlgoRefusal.PROFILE_LOOKAHEAD,
        ),
        (hourly(5), VWAP("3h", bucket="30m"), AlgoRefusal.NO_VOLUME_PROFILE),  # bucket shorter than the bars
    ],
)
def test_vwap_without_usable_volume_is_refused(series: BarSeries, algo: VWAP, code: AlgoRefusal) -> None:
    k, p = run_vwap(series, algo)
    assert p.status is AlgoStatus.FAILED and p.reason.startswith(f"{code.name}: ") and not k.cache.orders

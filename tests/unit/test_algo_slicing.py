"""Slicing arithmetic of the execution algorithms: equal and weighted slice sizes (lots, remainder, total never
exceeded), slice times (grid, jitter bounds, seeded), and the settings that cannot be constructed."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from traderbot.execution.algos import TWAP, VWAP, AlgoConfigError, Iceberg
from traderbot.execution.algos.slicing import equal_slices, slice_times, weighted_slices
from traderbot.model.instrument import generic_instrument, get_instrument

EURUSD = get_instrument("EURUSD")  # lot 1
BTCUSDT = get_instrument("BTCUSDT")  # lot 0.001
HOUR = 3_600_000_000_000


def test_equal_slices_round_down_to_lots_and_the_last_takes_the_remainder() -> None:
    assert equal_slices(D(1003), 4, EURUSD) == [D(250), D(250), D(250), D(253)]
    assert equal_slices(D(1000), 7, EURUSD) == [D(142)] * 6 + [D(148)]
    assert equal_slices(D("1.000"), 3, BTCUSDT) == [D("0.333"), D("0.333"), D("0.334")]
    assert equal_slices(D(5), 1, EURUSD) == [D(5)]


def test_equal_slices_of_a_fractional_instrument_sum_exactly() -> None:
    sizes = equal_slices(D(1), 3, generic_instrument())  # lot size 0: no rounding
    assert sum(sizes) == D(1)
    assert sizes[0] == sizes[1] and sizes[2] >= sizes[0]


@settings(max_examples=200, deadline=None)
@given(lots=st.integers(min_value=1, max_value=10**7), n=st.integers(min_value=1, max_value=500))
def test_equal_slices_property_sum_is_total_and_every_slice_is_whole_lots(lots: int, n: int) -> None:
    total = D(lots) * BTCUSDT.lot_size
    sizes = equal_slices(total, n, BTCUSDT)
    assert len(sizes) == n
    assert sum(sizes) == total
    assert all(q >= 0 and q % BTCUSDT.lot_size == 0 for q in sizes)
    assert sizes[-1] >= sizes[0]
    assert sizes[-1] - sizes[0] < n * BTCUSDT.lot_size  # the remainder is less than one lot per slice


@settings(max_examples=200, deadline=None)
@given(
    lots=st.integers(min_value=1, max_value=10**6),
    weights=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=60),
)
def test_weighted_slices_property_sum_is_total_and_track_weights_within_one_lot(
    lots: int, weights: list[float]
) -> None:
    if sum(weights) <= 0:
        weights = [*weights[:-1], 1.0]
    total = D(lots)
    sizes = weighted_slices(total, weights, EURUSD)
    assert sum(sizes) == total
    assert all(q >= 0 and q % 1 == 0 for q in sizes)
    s, cum, done = sum(weights), 0.0, D(0)
    for w, q in zip(weights, sizes, strict=True):
        cum += w
        done += q
        assert abs(float(done) - lots * cum / s) <= 1.0 + 1e-6 * lots  # the running total stays within a lot


def test_weighted_slices_follow_the_weights() -> None:
    assert weighted_slices(D(1000), [1, 3, 0, 1], EURUSD) == [D(200), D(600), D(0), D(200)]


def test_slice_times_without_jitter_are_the_exact_grid() -> None:
    times = slice_times(0, 4 * HOUR, 4, 0.0, random.Random(1))
    assert times == [0, HOUR, 2 * HOUR, 3 * HOUR]


@pytest.mark.parametrize("jitter", [0.1, 0.25, 0.5])
def test_jittered_times_stay_within_their_bounds_and_the_window_and_in_order(jitter: float) -> None:
    start, end, n = 10 * HOUR, 13 * HOUR, 36
    interval = (end - start) / n
    for seed in range(20):
        times = slice_times(start, end, n, jitter, random.Random(seed))
        for k, t in enumerate(times):
            nominal = start + k * (end - start) // n
            assert abs(t - nominal) <= jitter * interval + 1
            assert start <= t <= end
        assert times == sorted(times)


def test_jitter_is_reproducible_with_a_seed_and_differs_between_seeds() -> None:
    a = slice_times(0, HOUR, 12, 0.3, random.Random(7))
    assert a == slice_times(0, HOUR, 12, 0.3, random.Random(7))
    assert a != slice_times(0, HOUR, 12, 0.3, random.Random(8))
    assert a != slice_times(0, HOUR, 12, 0.0, random.Random(7))


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: TWAP("0m", 4), "positive number"),
        (lambda: TWAP(-5, 4), "must be positive"),
        (lambda: TWAP(timedelta(0), 4), "must be positive"),
        (lambda: TWAP("soon", 4), "not a duration"),
        (lambda: TWAP("1h", 0), "slices must be"),
        (lambda: TWAP("1h", 4, jitter=0.6), "jitter must be between 0 and 0.5"),
        (lambda: TWAP("1h", 4, jitter=float("nan")), "jitter must be between"),
        (lambda: TWAP("1h", 4, order_type="stop"), "order_type must be 'market' or 'limit'"),
        (lambda: TWAP("1h", 4, limit_offset="NaN"), "finite"),
        (lambda: TWAP("1h", 4, max_failures=0), "max_failures"),
        (lambda: TWAP("1h", 4, start="not a time"), "not a time"),
        (lambda: VWAP("1h", bucket="7m"), "divide a day"),
        (lambda: VWAP("1h", tz="Mars/Olympus"), "unknown time zone"),
        (lambda: VWAP("1h", max_participation=0), "max_participation"),
        (lambda: VWAP("1h", max_participation="1.5"), "max_participation"),
        (lambda: Iceberg(0, "1.1"), "display_qty must be a positive"),
        (lambda: Iceberg(100, -1), "limit must be a positive"),
        (lambda: Iceberg(100, "1.1", display_jitter=0.95), "display_jitter"),
    ],
)
def test_invalid_settings_cannot_be_constructed(make: Callable[[], object], words: str) -> None:
    with pytest.raises(AlgoConfigError, match=words):
        make()


def test_settings_accept_strings_timedeltas_and_nanoseconds() -> None:
    assert TWAP("90m", 3).duration_ns == TWAP(timedelta(minutes=90), 3).duration_ns == 90 * 60 * 10**9
    assert TWAP("2h", 3, start="2024-01-02 14:30").start_ns == 1704205800 * 10**9
    assert VWAP("1h", max_participation=0.1).style.max_participation == D("0.1")

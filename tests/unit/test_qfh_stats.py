"""qfh_hit_rates on hand-built closes and signals whose hits and base rates are counted by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from traderbot.analytics.qfh_stats import qfh_hit_rates

PIP = 0.0001
# next moves in pips from bars 0..6: +1, -2, +0.3, -0.6, +2, 0, (bar 6 has no next close)
CLOSE = 1.2 + PIP * np.array([0.0, 1.0, -1.0, -0.7, -1.3, 0.7, 0.7])
SIGNAL = np.array([1, -1, 1, 1, -1, -1, 1], dtype=np.int8)


def test_hits_base_rates_and_mix_by_hand() -> None:
    r = qfh_hit_rates(CLOSE, SIGNAL, PIP)
    assert r["bars"] == 6  # the last bar is excluded, so its BUY does not count
    assert (r["buy_count"], r["sell_count"]) == (3, 3)
    assert r["buy_hit_rate"] == pytest.approx(1 / 3)  # bar 0 (+1) hits; bar 2 (+0.3) and bar 3 (-0.6) miss
    assert r["sell_hit_rate"] == pytest.approx(1 / 3)  # bar 1 (-2) hits; bar 4 (+2) and bar 5 (0) miss
    assert r["hit_rate"] == pytest.approx(2 / 6)
    assert r["base_up"] == pytest.approx(2 / 6)  # +1 and +2
    assert r["base_down"] == pytest.approx(2 / 6)  # -2 and -0.6
    assert r["base_rate"] == pytest.approx(2 / 6)
    assert r["buy_share"] == pytest.approx(0.5)
    assert r["signals_per_bar"] == pytest.approx(1.0)


def test_threshold_and_pip_size_change_what_counts() -> None:
    r = qfh_hit_rates(CLOSE, SIGNAL, PIP, threshold_pips=0.2)
    assert r["buy_hit_rate"] == pytest.approx(2 / 3)  # +0.3 now counts as up
    assert r["base_up"] == pytest.approx(3 / 6)
    jpy = qfh_hit_rates(CLOSE, SIGNAL, 0.01)  # every move is below 0.5 pip of 0.01
    assert jpy["base_up"] == 0.0 and jpy["hit_rate"] == 0.0


def test_no_signals_give_nan_rates_and_nan_next_moves_are_skipped() -> None:
    r = qfh_hit_rates(CLOSE, np.zeros(7, dtype=np.int8), PIP)
    assert math.isnan(r["buy_hit_rate"]) and math.isnan(r["base_rate"]) and r["signals_per_bar"] == 0.0
    close = CLOSE.copy()
    close[1] = np.nan  # moves 0->1 and 1->2 are unknown
    r = qfh_hit_rates(close, SIGNAL, PIP)
    assert r["bars"] == 4 and (r["buy_count"], r["sell_count"]) == (2, 2)
    assert r["buy_hit_rate"] == 0.0 and r["base_down"] == pytest.approx(1 / 4)


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="one length"):
        qfh_hit_rates(CLOSE, SIGNAL[:-1], PIP)
    with pytest.raises(ValueError, match="pip_size"):
        qfh_hit_rates(CLOSE, SIGNAL, 0.0)
    with pytest.raises(ValueError, match="threshold_pips"):
        qfh_hit_rates(CLOSE, SIGNAL, PIP, threshold_pips=-1.0)
    with pytest.raises(ValueError, match=r"only \+1"):
        qfh_hit_rates(CLOSE, SIGNAL * 2, PIP)

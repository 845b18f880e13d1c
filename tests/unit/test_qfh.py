"""QFH on hand-built bars whose bits, transition counts, entropy and coherence are worked out by hand."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from traderbot.indicators.qfh import QFH_PARAMS, QfhResult, qfh

PIP = 0.0001


def _bars(moves_pips: Sequence[float], range_pips: float = 5.0, start: float = 1.1) -> dict[str, np.ndarray]:
    """Bars whose closes move by the given pips and whose high-low range is a constant number of pips."""
    close = start + PIP * np.concatenate([[0.0], np.cumsum(moves_pips)])
    half = range_pips * PIP / 2
    return {"open": close.copy(), "high": close + half, "low": close - half, "close": close}


def _run(bars: dict[str, np.ndarray], **params: Any) -> QfhResult:
    return qfh(bars["open"], bars["high"], bars["low"], bars["close"], pip_size=PIP, **params)


def test_eight_bit_window_counts_entropy_and_coherence_by_hand() -> None:
    # bits 1,1,0,1,0,0,0,1 -> pairs 11 10 01 10 00 00 01: null 2, flip 4, rupture 1 of 7
    res = _run(_bars([1, 2, -1, 3, -2, -1, -4, 2]), window=8)
    assert res.null_ratio[8] == pytest.approx(2 / 7, abs=1e-15)
    assert res.flip_ratio[8] == pytest.approx(4 / 7, abs=1e-15)
    assert res.rupture_ratio[8] == pytest.approx(1 / 7, abs=1e-15)
    # H = (2/7*1.807355 + 4/7*0.807355 + 1/7*2.807355) / 1.584963 = 0.869916; E = H/2
    assert res.entropy[8] == pytest.approx(0.869916 / 2, abs=1e-6)
    # C0 = 1.1*(0.6*(1-H) + 0.33*(6/7) + 0.21*(3/7))^2 = 0.223650; no damped path for W <= 10
    assert res.coherence[8] == pytest.approx(0.7 * 0.223650 + 0.15, abs=1e-6)
    assert math.isnan(res.damped[8])
    assert not res.collapse[8]  # rupture 1/7 < 0.3
    assert np.isnan(res.coherence[:8]).all()


def test_steady_rise_gives_full_rupture_and_a_buy_with_hand_computed_scores() -> None:
    res = _run(_bars([1.0] * 24, range_pips=5.0))
    t = 20  # the first bar with stability (range mean over bars 0..19)
    # all bits 1: rupture 1, H clamped to 0.05; path flat at 1 so V = 1, T = cos(path, line) = 1
    # C0 = 1.1*(0.6*0.95 + 0 + 0.21)^2 = 0.66924; C = (0.7*C0 + 0.3)/1.1 = 0.698607; C' = 0.639025
    assert res.coherence[t] == pytest.approx(0.639025, abs=1e-6)
    assert res.damped[t] == 1.0
    assert res.entropy[t] == pytest.approx(0.025, abs=1e-15)
    assert res.stability[t] == pytest.approx(0.05, abs=1e-12)  # (1 - 1) + 0.01 * 5 pips
    assert res.collapse[t]
    # buy = 0.4*0.95 + 0.1*C' + 0.5*0.975 = 0.931403 > 0.50 * m with m = 1 + (5 - 10)*0.02 = 0.9
    assert res.buy_score[t] == pytest.approx(0.931403, abs=1e-6)
    assert res.sell_score[t] == pytest.approx(0.068597, abs=1e-6)
    assert res.signal[t] == 1 and res.confidence[t] == res.buy_score[t]
    assert (res.signal[:20] == 0).all() and np.isnan(res.stability[:20]).all()


def test_steady_fall_has_zero_path_so_no_trajectory_match() -> None:
    res = _run(_bars([-1.0] * 24))
    # all bits 0: C0 = 1.1*(0.57+0.33+0.21)^2 = 1.355 -> 1; path all 0: V = 0, T = 0; C = 0.7; C' = 0.64
    assert res.coherence[20] == pytest.approx(0.64, abs=1e-12)
    assert res.damped[20] == 0.0
    assert res.stability[20] == 1.0  # min(1, 1 + 0.05)
    # buy = 0 + 0.064 + 0.4875 = 0.5515 beats 0.45 (m = 0.9) before sell is considered
    assert res.buy_score[20] == pytest.approx(0.5515, abs=1e-12)
    assert res.signal[20] == 1


def test_single_up_bit_damped_path_by_hand() -> None:
    # window bits 0,1,0,0,0,0,0,0,0,0,0: null 8, flip 2, rupture 0 of 10
    res = _run(_bars([-1, 1, -1, -1, -1, -1, -1, -1, -1, -1, -1]))
    # H = (0.8*0.321928 + 0.2*2.321928)/1.584963 = 0.455486; lambda = 0.5*H; V = exp(-lambda) = 0.796329
    assert res.damped[11] == pytest.approx(0.796329, abs=1e-6)
    # path = [0, V, ..., V]: cos to the line 0..V is 55/sqrt(3850) = 0.886405 (beats the sine's 0.778499)
    # C0 = 1.1*(0.6*0.544514 + 0.33 + 0.21*0.8)^2 = 0.748158; C = (0.7*C0 + 0.3*0.886405)/(1 + 0.1*V)
    assert res.coherence[11] == pytest.approx(0.7 * 0.731390 + 0.15, abs=1e-6)


def test_tie_rules_and_min_move() -> None:
    bars = _bars([1.0] + [0.0] * 12 + [0.3] * 12)
    zero = _run(bars, window=8)
    repeat = _run(bars, window=8, tie_rule="repeat_prev")
    # flat closes: zero rule -> bits 0 (all null); repeat_prev -> bits stay 1 (all rupture)
    assert zero.null_ratio[13] == 1.0 and repeat.rupture_ratio[13] == 1.0
    # 0.3-pip moves are ups unless min_move_pips exceeds them
    assert zero.rupture_ratio[25] == 1.0
    assert _run(bars, window=8, min_move_pips=0.5).null_ratio[25] == 1.0


def test_repeat_prev_tie_after_a_missing_close_stays_unknown() -> None:
    bars = _bars([1, 1, 1] + [0] * 16 + [1] + [0] * 10)
    bars["close"][2] = np.nan
    res = _run(bars, window=8, tie_rule="repeat_prev")
    # bits 2, 3 are unknown; the ties 4..19 repeat an unknown bit; bit 20 is up and the ties after it repeat 1
    assert np.isnan(res.coherence[:27]).all() and res.rupture_ratio[27] == 1.0
    zero = _run(bars, window=8)
    assert np.isnan(zero.coherence[:11]).all() and zero.null_ratio[11] == 1.0


def test_volatility_adaptation_raises_thresholds_in_wide_ranges() -> None:
    bars = _bars([-1.0] * 24, range_pips=45.0)
    # m = clamp(1 + (45 - 10)*0.02, 0.8, 1.5) = 1.5: buy 0.5515 < 0.75 and sell 0.4485 < 0.78: HOLD
    assert _run(bars).signal[21] == 0
    assert _run(bars, volatility_adaptation=False).signal[21] == 1


def test_filters_turn_signals_into_hold() -> None:
    bars = _bars([1.0] * 24)
    assert _run(bars, conf_min=0.95).signal[22] == 0  # buy 0.931 < 0.95
    assert _run(bars, coh_min=0.65).signal[22] == 0  # C' 0.639 < 0.65
    assert _run(bars, stab_min=0.06).signal[22] == 0  # S 0.05 < 0.06
    held = _run(bars, conf_min=0.93, coh_min=0.63, stab_min=0.049)
    assert held.signal[22] == 1 and np.isnan(_run(bars, conf_min=0.95).confidence[22])


def test_temporal_factor_uses_previous_coherence_only() -> None:
    bars = _bars([1.0] * 40)
    plain = _run(bars)
    timed = _run(bars, use_temporal_factor=True)
    # a steady rise keeps C' constant, so |C' - mean5| = |mean5 - mean15| = 0 -> factor 1.15 from bar 26
    assert np.isnan(timed.buy_score[:26]).all()
    assert timed.buy_score[26] == pytest.approx(plain.buy_score[26] * 1.15, abs=1e-12)


def test_volume_factor_scales_scores() -> None:
    bars = _bars([1.0] * 24)
    vol = np.full(25, 300.0)
    res = qfh(
        bars["open"], bars["high"], bars["low"], bars["close"], vol, pip_size=PIP, use_volume_factor=True
    )
    # 0.85 + 0.3*300/150 = 1.45, clamped to 1.4
    assert res.sell_score[22] == pytest.approx(_run(bars).sell_score[22] * 1.4, abs=1e-12)


def test_pip_size_scales_ranges_not_bits() -> None:
    bars = _bars([1.0] * 24, range_pips=5.0)
    as_decimal = qfh(bars["open"], bars["high"], bars["low"], bars["close"], pip_size=Decimal("0.0001"))
    jpy_like = qfh(bars["open"], bars["high"], bars["low"], bars["close"], pip_size=0.01)
    assert as_decimal.stability[22] == pytest.approx(0.05, abs=1e-12)
    assert jpy_like.stability[22] == pytest.approx(0.0005, abs=1e-12)
    assert jpy_like.coherence[22] == as_decimal.coherence[22]


def test_result_supports_attribute_and_mapping_access_and_is_read_only() -> None:
    res = _run(_bars([1.0] * 30))
    assert res["coherence"] is res.coherence
    assert list(res) == list(res.keys()) and "collapse" in res and "x" not in res
    assert all(len(v) == 31 for _, v in res.items())
    assert res.signal.dtype == np.int8 and res.collapse.dtype == np.bool_
    with pytest.raises(KeyError, match="unknown QFH output"):
        res["nope"]
    with pytest.raises(ValueError):
        res.signal[25] = 0


def test_params_table_defaults_lie_inside_their_ranges() -> None:
    for name, spec in QFH_PARAMS.items():
        if spec.choices is not None:
            assert spec.default in spec.choices, name
        else:
            values = spec.default if isinstance(spec.default, tuple) else (spec.default,)
            assert all(spec.low <= v <= spec.high for v in values), name


def test_empty_input_gives_empty_outputs() -> None:
    res = qfh([], [], [], [], pip_size=PIP)
    assert all(v.size == 0 for v in res.to_dict().values())

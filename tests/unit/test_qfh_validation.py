"""Bad QFH inputs and parameters raise one clear ValueError; missing prices give NaN features, no signal."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from traderbot.indicators.qfh import QFH_PARAMS, qfh, resolve_qfh_params

N = 60
RNG = np.random.default_rng(7)
CLOSE = 1.1 + 0.0001 * np.cumsum(RNG.choice([-1.0, 0.0, 1.0], N))
HIGH = CLOSE + 0.0003
LOW = CLOSE - 0.0003


def _run(close: np.ndarray = CLOSE, **params: Any) -> Any:
    return qfh(CLOSE, HIGH, LOW, close, pip_size=0.0001, **params)


def test_mismatched_lengths_name_every_column() -> None:
    with pytest.raises(ValueError, match=r"same length.*open=60, high=60, low=59, close=60"):
        qfh(CLOSE, HIGH, LOW[:-1], CLOSE, pip_size=0.0001)
    with pytest.raises(ValueError, match=r"same length.*volume=10"):
        qfh(CLOSE, HIGH, LOW, CLOSE, np.ones(10), pip_size=0.0001)


@pytest.mark.parametrize("pip", [0, -0.0001, float("nan"), float("inf"), "0.0001", True, None])
def test_pip_size_must_be_positive_and_finite(pip: Any) -> None:
    with pytest.raises(ValueError, match="pip_size must be a positive finite number"):
        qfh(CLOSE, HIGH, LOW, CLOSE, pip_size=pip)


def test_unknown_parameter_lists_valid_names() -> None:
    with pytest.raises(ValueError, match=r"unknown QFH parameter.*windw.*valid names: window, tie_rule"):
        _run(windw=11)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"window": 2}, r"window must be an integer in \[3, 64\]"),
        ({"window": 65}, r"window must be .*\[3, 64\]"),
        ({"window": 11.0}, r"window must be an integer"),
        ({"trajectory_window": 1}, r"trajectory_window must be .*\[2, 64\]"),
        ({"buy_threshold": -0.1}, r"buy_threshold must be a number in \[0.0, 2.0\]"),
        ({"k1": float("nan")}, r"k1 must be a number in \[0.0, 2.0\]"),
        ({"conf_min": "0.5"}, r"conf_min must be a number"),
        ({"stab_min": True}, r"stab_min must be a number"),
        ({"mix": (0.5, 0.3)}, r"mix must be 3 numbers each in \[0.0, 1.0\]"),
        ({"mix": (0.5, 2.0, 0.1)}, r"mix must be a number in \[0.0, 1.0\], got 2.0"),
        ({"tie_rule": "up"}, r"tie_rule must be one of \('zero', 'repeat_prev'\)"),
        ({"volatility_adaptation": 1}, r"volatility_adaptation must be True or False"),
    ],
)
def test_out_of_range_parameters_name_the_range(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _run(**params)


def test_every_parameter_accepts_its_bounds() -> None:
    for name, spec in QFH_PARAMS.items():
        if spec.choices is not None:
            values: list[Any] = list(spec.choices)
        elif isinstance(spec.default, tuple):
            values = [(spec.low,) * 3, (spec.high,) * 3]
        else:
            values = [type(spec.default)(spec.low), type(spec.default)(spec.high)]
        for v in values:
            assert resolve_qfh_params({name: v})[name] == v


def test_volume_factor_needs_volume() -> None:
    with pytest.raises(ValueError, match="use_volume_factor=True needs a volume column"):
        _run(use_volume_factor=True)


def test_bad_shapes_and_types_are_rejected() -> None:
    with pytest.raises(ValueError, match="close must be one-dimensional"):
        qfh(CLOSE, HIGH, LOW, CLOSE.reshape(6, 10), pip_size=0.0001)
    with pytest.raises(ValueError, match="high must be a 1-D sequence of numbers"):
        qfh(CLOSE, ["a"] * N, LOW, CLOSE, pip_size=0.0001)


def test_nan_close_blanks_every_window_that_touches_it() -> None:
    close = CLOSE.copy()
    close[30] = np.nan  # bits 30 and 31 are unknown: windows of 11 bits ending at bars 30..41
    res = _run(close)
    clean = _run()
    assert np.isnan(res.coherence[30:42]).all() and np.isnan(res.buy_score[30:42]).all()
    assert (res.signal[30:42] == 0).all() and not res.collapse[30:42].any()
    np.testing.assert_array_equal(res.coherence[:30], clean.coherence[:30])
    np.testing.assert_array_equal(res.coherence[42:], clean.coherence[42:])
    assert np.isnan(res.confidence[30:42]).all()


def test_warm_up_is_exact() -> None:
    res = _run()
    # W=11 bits need 12 closes (first at bar 11); stability needs bars t-20..t-1 (first at bar 20)
    assert np.isnan(res.coherence[:11]).all() and np.isfinite(res.coherence[11:]).all()
    assert np.isnan(res.stability[:20]).all() and np.isfinite(res.stability[20:]).all()
    assert np.isnan(res.buy_score[:20]).all() and np.isfinite(res.sell_score[20:]).all()
    assert (res.signal[:20] == 0).all() and np.isnan(res.damped[:11]).all()
    assert np.isnan(_run(window=10).damped).all()

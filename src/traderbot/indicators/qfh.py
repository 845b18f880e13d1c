"""QFH feature engine: causal features and BUY/SELL/HOLD signals from the up/down sequence of closes.

Implements the QFH spec step by step (formulas, warm-up and NaN rules in docs/qfh.md). A value at bar t reads
bars <= t only, unlike the original engine, whose window contained the very move it predicted.
"""

from __future__ import annotations

import math
from collections.abc import ItemsView, Iterator, KeysView, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from traderbot.indicators import _qfh_kernels as k
from traderbot.indicators._validation import as_float_array, check_same_length

__all__ = ["QFH_PARAMS", "ParamSpec", "QfhResult", "qfh", "resolve_qfh_params"]


class ParamSpec(NamedTuple):
    """A parameter's default and valid (= search) range; `choices` lists the values of a categorical one."""

    default: Any
    low: float | None
    high: float | None
    choices: tuple[Any, ...] | None = None


def _num(default: float, low: float, high: float) -> ParamSpec:
    return ParamSpec(default, low, high)


def _flag(default: bool) -> ParamSpec:
    return ParamSpec(default, None, None, (False, True))


# Defaults are the original's values; a value outside [low, high] is rejected (for `mix`, per component).
QFH_PARAMS: Mapping[str, ParamSpec] = MappingProxyType(
    {
        "window": _num(11, 3, 64),
        "tie_rule": ParamSpec("zero", None, None, ("zero", "repeat_prev")),
        "min_move_pips": _num(0.0, 0.0, 10.0),
        "k1": _num(0.30, 0.0, 2.0),
        "k2": _num(0.20, 0.0, 2.0),
        "trajectory_window": _num(20, 2, 64),
        "a_pat": _num(1.2, 0.0, 3.0),
        "a_stab": _num(1.1, 0.0, 3.0),
        "a_flip": _num(1.05, 0.0, 3.0),
        "mix": ParamSpec((0.5, 0.3, 0.2), 0.0, 1.0),
        "squared_gain": _num(1.1, 0.0, 3.0),
        "trajectory_blend": _num(0.3, 0.0, 1.0),
        "w_s": _num(0.4, 0.0, 1.0),
        "w_c": _num(0.1, 0.0, 1.0),
        "w_e": _num(0.5, 0.0, 1.0),
        "buy_threshold": _num(0.50, 0.0, 2.0),
        "sell_threshold": _num(0.52, 0.0, 2.0),
        "conf_min": _num(0.0, 0.0, 2.0),
        "coh_min": _num(0.0, 0.0, 1.0),
        "stab_min": _num(0.0, 0.0, 1.0),
        "collapse_threshold": _num(0.3, 0.0, 1.0),
        "volatility_adaptation": _flag(True),
        "use_volume_factor": _flag(False),
        "use_temporal_factor": _flag(False),
    }
)
_INT_PARAMS = frozenset({"window", "trajectory_window"})


@dataclass(frozen=True, slots=True, eq=False)
class QfhResult:
    """QFH outputs, one read-only array each, by attribute (`res.coherence`) or by name (`res["signal"]`)."""

    coherence: NDArray[np.float64]
    stability: NDArray[np.float64]
    entropy: NDArray[np.float64]
    rupture_ratio: NDArray[np.float64]
    flip_ratio: NDArray[np.float64]
    null_ratio: NDArray[np.float64]
    damped: NDArray[np.float64]
    buy_score: NDArray[np.float64]
    sell_score: NDArray[np.float64]
    signal: NDArray[np.int8]
    confidence: NDArray[np.float64]
    collapse: NDArray[np.bool_]

    def __getitem__(self, name: str) -> NDArray[Any]:
        if name not in _RESULT_NAMES:
            raise KeyError(f"unknown QFH output {name!r}: outputs are {', '.join(_RESULT_NAMES)}")
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(_RESULT_NAMES)

    def keys(self) -> KeysView[str]:
        return self.to_dict().keys()

    def items(self) -> ItemsView[str, NDArray[Any]]:
        return self.to_dict().items()

    def to_dict(self) -> dict[str, NDArray[Any]]:
        """The outputs as a plain dict (e.g. for `pandas.DataFrame(res.to_dict(), index=bars.index)`)."""
        return {name: getattr(self, name) for name in _RESULT_NAMES}


_RESULT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(QfhResult))


def _check_number(name: str, value: Any, spec: ParamSpec) -> float:
    """A finite real in [low, high] (an integer for integer parameters), else a ValueError with the range."""
    is_int = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    is_real = is_int or isinstance(value, float | np.floating)
    kind = "an integer" if name in _INT_PARAMS else "a number"
    ok = (is_int or name not in _INT_PARAMS) and is_real and math.isfinite(value)
    if not ok or not (spec.low <= value <= spec.high):
        raise ValueError(f"QFH parameter {name} must be {kind} in [{spec.low}, {spec.high}], got {value!r}")
    return int(value) if name in _INT_PARAMS else float(value)


def _check_value(name: str, value: Any, spec: ParamSpec) -> Any:
    """Validate one parameter value and return it normalised (int, float, bool, str or tuple)."""
    if spec.choices is not None:
        if isinstance(spec.default, bool):
            if not isinstance(value, bool | np.bool_):
                raise ValueError(f"QFH parameter {name} must be True or False, got {value!r}")
            return bool(value)
        if value not in spec.choices:
            raise ValueError(f"QFH parameter {name} must be one of {spec.choices}, got {value!r}")
        return value
    if name == "mix":
        if not isinstance(value, tuple | list | np.ndarray) or len(value) != 3:
            raise ValueError(
                f"QFH parameter mix must be 3 numbers each in [{spec.low}, {spec.high}], got {value!r}"
            )
        return tuple(_check_number("mix", v, spec) for v in value)
    return _check_number(name, value, spec)


def resolve_qfh_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """All QFH parameters: defaults overridden by `params`; unknown names or bad values raise ValueError."""
    unknown = sorted(set(params) - set(QFH_PARAMS))
    if unknown:
        raise ValueError(
            f"unknown QFH parameter(s) {', '.join(unknown)}; valid names: {', '.join(QFH_PARAMS)}"
        )
    out = {name: spec.default for name, spec in QFH_PARAMS.items()}
    for name, value in params.items():
        out[name] = _check_value(name, value, QFH_PARAMS[name])
    return out


def _check_pip_size(pip_size: Any) -> float:
    """The instrument's pip size as a positive finite float (a Decimal from the instrument is accepted)."""
    ok = isinstance(pip_size, int | float | Decimal | np.integer | np.floating) and not isinstance(
        pip_size, bool
    )
    value = float(pip_size) if ok else math.nan
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(
            f"pip_size must be a positive finite number (e.g. 0.0001, 0.01 for JPY), got {pip_size!r}"
        )
    return value


def _columns(
    open: ArrayLike, high: ArrayLike, low: ArrayLike, close: ArrayLike, volume: ArrayLike | None
) -> dict[str, NDArray[np.float64]]:
    """The inputs as float64 arrays of one common length (`open` is checked; the spec never reads it)."""
    raw = {"open": open, "high": high, "low": low, "close": close}
    if volume is not None:
        raw["volume"] = volume
    cols = {name: as_float_array(values, name) for name, values in raw.items()}
    check_same_length(**cols)
    return cols


def _factors(
    p: Mapping[str, Any], coherence: NDArray[np.float64], volume: NDArray[np.float64] | None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The optional score multipliers (volume, temporal), each all ones when switched off."""
    ones = np.ones(coherence.size)
    vol_f = ones
    if p["use_volume_factor"]:
        if volume is None:
            raise ValueError(
                "use_volume_factor=True needs a volume column; pass volume= or switch the factor off"
            )
        vol_f = np.clip(0.85 + 0.3 * volume / 150.0, 0.7, 1.4)
    time_f = k.temporal_factors(coherence) if p["use_temporal_factor"] else ones
    return vol_f, time_f


def qfh(
    open: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    volume: ArrayLike | None = None,
    *,
    pip_size: float | Decimal,
    **params: Any,
) -> QfhResult:
    """QFH features and signals for every bar (causal; see QFH_PARAMS for the parameters and docs/qfh.md)."""
    p = resolve_qfh_params(params)
    pip = _check_pip_size(pip_size)
    cols = _columns(open, high, low, close, volume)
    bits = k.direction_bits(cols["close"], pip, p["min_move_pips"], p["tie_rule"] == "repeat_prev")
    gains = np.array([p["a_pat"], p["a_stab"], p["a_flip"]])
    null, flip, rupture, entropy_h, coherence, damped = k.pattern_features(
        bits, p["window"], p["trajectory_window"], p["k1"], p["k2"], gains, np.array(p["mix"]),
        p["squared_gain"], p["trajectory_blend"],
    )  # fmt: skip
    prior_range, recent_range = k.range_means(cols["high"], cols["low"], pip)
    stab = k.stability(rupture, prior_range)
    entropy = entropy_h / 2.0
    vol_f, time_f = _factors(p, coherence, cols.get("volume"))
    buy, sell = k.scores(coherence, stab, entropy, np.array([p["w_s"], p["w_c"], p["w_e"]]), vol_f, time_f)
    mult = k.threshold_multiplier(recent_range, p["volatility_adaptation"])
    signal, confidence = k.decide(
        buy, sell, coherence, stab, mult,
        np.array([p["buy_threshold"], p["sell_threshold"]]),
        np.array([p["conf_min"], p["coh_min"], p["stab_min"]]),
    )  # fmt: skip
    collapse = rupture >= p["collapse_threshold"]  # False where the window is not valid (NaN compares False)
    out = QfhResult(
        coherence=coherence, stability=stab, entropy=entropy, rupture_ratio=rupture, flip_ratio=flip,
        null_ratio=null, damped=damped, buy_score=buy, sell_score=sell, signal=signal, confidence=confidence,
        collapse=collapse,
    )  # fmt: skip
    for arr in out.to_dict().values():
        arr.flags.writeable = False
    return out

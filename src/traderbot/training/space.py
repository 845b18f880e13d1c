"""A strategy's search space for training: its declared parameters' ranges, narrowed or fixed by the user.

Spec per parameter (from a config file or the CLI): `[low, high]` or `[low, high, step]` for numbers, a list of
choices for choice parameters, or a single value to fix it. Every value is checked against the parameter's own
declared range, so a space can only narrow what the strategy allows.
"""

from __future__ import annotations

from typing import Any

import optuna.distributions as D

from traderbot.errors import UserError
from traderbot.strategies.params import BoolParam, ChoiceParam, FloatParam, IntParam, Param

Distribution = D.BaseDistribution


def _declared(param: Param[Any]) -> Distribution | None:
    """The declared range as a distribution; None when the parameter has no search range."""
    if isinstance(param, BoolParam | ChoiceParam) or param.choices is not None:
        choices = param.choices or ()
        return D.CategoricalDistribution(list(choices)) if len(choices) > 1 else None
    if param.low is None or param.high is None or param.low == param.high:
        return None
    if isinstance(param, IntParam):
        return D.IntDistribution(int(param.low), int(param.high), step=int(param.step or 1))
    if isinstance(param, FloatParam):
        step = float(param.step) if param.step else None
        return D.FloatDistribution(float(param.low), float(param.high), step=step)
    return None


def _narrowed(param: Param[Any], spec: Any) -> Distribution | Any:
    """A distribution within the declared range, or a fixed value (returned as is, coerced)."""
    where = f"training space {param.name}={spec!r}"
    if not isinstance(spec, list | tuple):
        return param.coerce(spec)
    if param.choices is not None:
        values = [param.coerce(v) for v in spec]
        if not values:
            raise UserError(f"{where} lists no choices: give at least one of {param.describe()}")
        return D.CategoricalDistribution(values) if len(values) > 1 else values[0]
    if len(spec) not in (2, 3):
        raise UserError(f"{where} is not [low, high] or [low, high, step]")
    low, high = param.coerce(spec[0]), param.coerce(spec[1])
    if low > high:
        raise UserError(f"{where}: low {low} is above high {high}; swap them")
    if low == high:
        return low
    if isinstance(param, IntParam):
        step = int(spec[2]) if len(spec) == 3 else int(param.step or 1)
        if step < 1:
            raise UserError(f"{where}: the step must be a positive whole number")
        return D.IntDistribution(int(low), int(high), step=step)
    step_f = float(spec[2]) if len(spec) == 3 else (float(param.step) if param.step else None)
    if step_f is not None and step_f <= 0:
        raise UserError(f"{where}: the step must be above 0")
    return D.FloatDistribution(float(low), float(high), step=step_f)


def search_space(
    declared: dict[str, Param[Any]], overrides: dict[str, Any] | None = None
) -> tuple[dict[str, Distribution], dict[str, Any]]:
    """(distributions to search, fixed values). Without overrides, every declared range is searched."""
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        valid = ", ".join(declared)
        raise UserError(f"training space names unknown parameter(s) {', '.join(unknown)}; valid: {valid}")
    dists: dict[str, Distribution] = {}
    fixed: dict[str, Any] = {}
    for name, param in declared.items():
        value = _narrowed(param, overrides[name]) if name in overrides else _declared(param)
        if isinstance(value, Distribution):
            dists[name] = value
        elif name in overrides:
            fixed[name] = value
    if not dists:
        raise UserError(
            "the training space is empty: every parameter is fixed or has no range; give at least one range, "
            "e.g. window=[8, 16]"
        )
    return dists, fixed

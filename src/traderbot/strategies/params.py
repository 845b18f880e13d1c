"""Typed strategy parameters declared on the class, with defaults and search ranges (used by training).

class SmaCross(Strategy):
    fast = IntParam(10, low=2, high=100, doc="fast SMA period")
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar, overload

from traderbot.errors import UserError

T = TypeVar("T")


@dataclass
class Param(Generic[T]):
    """A parameter: default value, inclusive search range [low, high] with step, or a set of choices."""

    default: T
    low: T | None = None
    high: T | None = None
    step: T | None = None
    choices: tuple[T, ...] | None = None
    doc: str = ""
    name: str = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> Param[T]: ...
    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> T: ...
    def __get__(self, obj: object | None, objtype: type | None = None) -> Param[T] | T:
        if obj is None:
            return self
        return obj._params[self.name]  # type: ignore[attr-defined]

    def coerce(self, value: Any) -> T:
        """Convert a CLI string or number to this parameter's type and check its range."""
        if (
            type(value) is type(self.default)  # already typed: only the range to check
            and self.choices is None
            and (self.low is None or value >= self.low)  # type: ignore[operator]
            and (self.high is None or value <= self.high)  # type: ignore[operator]
        ):
            return value
        try:
            v = self._convert(value)
        except (TypeError, ValueError):
            raise UserError(f"parameter {self.name}={value!r} is not valid: {self.describe()}") from None
        if self.choices is not None and v not in self.choices:
            raise UserError(f"parameter {self.name}={value!r} is not valid: {self.describe()}")
        if self.low is not None and v < self.low:  # type: ignore[operator]
            raise UserError(f"parameter {self.name}={value!r} is out of range: {self.describe()}")
        if self.high is not None and v > self.high:  # type: ignore[operator]
            raise UserError(f"parameter {self.name}={value!r} is out of range: {self.describe()}")
        return v

    def _convert(self, value: Any) -> T:
        return value

    def describe(self) -> str:
        if self.choices is not None:
            return f"{self.name} in {{{', '.join(map(str, self.choices))}}} (default {self.default})"
        rng = f"[{self.low}, {self.high}]" if self.low is not None or self.high is not None else "any"
        return f"{self.name} in {rng} (default {self.default})"


class IntParam(Param[int]):
    def _convert(self, value: Any) -> int:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, float) and not value.is_integer():
            raise ValueError
        return int(float(value)) if isinstance(value, str) and "." in value else int(value)


class FloatParam(Param[float]):
    def _convert(self, value: Any) -> float:
        v = float(value)
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError
        return v


class BoolParam(Param[bool]):
    def __init__(self, default: bool, doc: str = "") -> None:
        super().__init__(default, choices=(False, True), doc=doc)

    def _convert(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ValueError


class ChoiceParam(Param[str]):
    def __init__(self, default: str, choices: tuple[str, ...], doc: str = "") -> None:
        super().__init__(default, choices=choices, doc=doc)

    def _convert(self, value: Any) -> str:
        return str(value)


def declared_params(cls: type) -> dict[str, Param[Any]]:
    """All parameters declared on a strategy class and its bases, in declaration order (cached per class)."""
    return _declared(cls)


@cache
def _declared(cls: Hashable) -> dict[str, Param[Any]]:
    assert isinstance(cls, type)
    out: dict[str, Param[Any]] = {}
    for klass in reversed(cls.__mro__):
        for name, attr in vars(klass).items():
            if isinstance(attr, Param):
                out[name] = attr
    return out


def resolve_params(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with `given`; unknown names get one line listing the valid names and ranges."""
    spec = declared_params(cls)
    unknown = [k for k in given if k not in spec]
    if unknown:
        valid = "; ".join(p.describe() for p in spec.values()) or "none"
        name = getattr(cls, "name", cls.__name__)
        raise UserError(f"unknown parameter {unknown[0]!r} for strategy {name}: valid parameters are {valid}")
    return {k: (spec[k].coerce(given[k]) if k in given else p.default) for k, p in spec.items()}

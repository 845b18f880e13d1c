"""Position sizing for orders sent without a quantity: the `--sizing` grammar and its parsed, frozen form.

Grammar (case-insensitive, spaces around separators allowed)::

    SIZING := METHOD [";dd=" START ":" FULL ":" FLOOR]
    METHOD := "all_in" | "fraction:" F | "units:" N
            | "risk:" PCT ["," "atr=" M] ["," "period=" P]
            | "vol:" PCT ["," "lookback=" N]
            | "kelly:" F ["," "cap=" C] ["," "min_trades=" M] ["," "window=" W] ["," "fallback=" B]

`all_in` invests the whole equity (resolved at the fill price, commission included), `fraction:F` a fraction
of it, `units:N` a fixed quantity, and `risk:PCT` risks PCT % of equity between entry and stop: with a stop
loss on the order its distance is used, otherwise M x ATR(P) of the pair's bars (defaults 2 and 14).
`vol:PCT` targets PCT % annual volatility, `kelly:F` bets F x the Kelly fraction of the strategy's own trades,
and `;dd=` cuts any method's size while the account is in drawdown. The formulas are in `sizing_methods`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from traderbot.errors import UserError

VALID = (
    "all_in, fraction:F (0 < F <= 1), units:N, risk:PCT[,atr=M,period=P] (percent of equity per trade), "
    "vol:PCT[,lookback=N] (annual volatility target), kelly:F[,cap=C,min_trades=M,window=W,fallback=B], "
    "each optionally followed by ;dd=START:FULL:FLOOR"
)
_ALL_IN = {"all_in", "all-in", "allin"}
_DD_HELP = "dd=START:FULL:FLOOR needs 0 <= START < FULL <= 100 and 0 < FLOOR <= 1, e.g. risk:1;dd=5:20:0.25"


@dataclass(frozen=True, slots=True)
class DrawdownCut:
    """`;dd=START:FULL:FLOOR`: full size up to START % drawdown from the equity peak, then linearly less,
    down to FLOOR x size at FULL % and beyond."""

    start: Decimal
    full: Decimal
    floor: Decimal

    def factor(self, drawdown_pct: Decimal) -> Decimal:
        """1 at or below START; FLOOR at or beyond FULL; 1 - (1 - FLOOR) x (dd - START) / (FULL - START) between."""
        if drawdown_pct <= self.start:
            return Decimal(1)
        if drawdown_pct >= self.full:
            return self.floor
        return 1 - (1 - self.floor) * (drawdown_pct - self.start) / (self.full - self.start)

    def describe(self) -> str:
        return f"dd={self.start}:{self.full}:{self.floor}"


@dataclass(frozen=True, slots=True)
class Sizing:
    """A parsed sizing method. Only the fields of `method` are meaningful; the others keep their defaults."""

    method: str  # fraction (all_in is fraction 1) | units | risk | vol | kelly
    value: Decimal = Decimal(1)
    atr: Decimal = Decimal(2)  # risk: stop distance = atr x ATR(period) when the order has no stop loss
    period: int = 14
    lookback: int = 20  # vol: realised volatility from the last `lookback` log returns
    cap: Decimal = Decimal("0.25")  # kelly: most of equity one order may take
    min_trades: int = 20  # kelly: fewer closed trades than this -> `fallback`
    window: int = 100  # kelly: the last `window` closed trades of the strategy on the pair
    fallback: Decimal = Decimal("0.01")
    drawdown: DrawdownCut | None = None

    @staticmethod
    def parse(text: str) -> Sizing:
        """Parse a sizing string (see the module docstring); a bad one raises UserError naming the fix."""
        t = text.strip().lower()
        head, *mods = t.split(";")
        drawdown = _parse_drawdown(text, mods) if mods else None
        head = head.strip() if mods else head
        if head in _ALL_IN:
            return Sizing("fraction", Decimal(1), drawdown=drawdown)
        method, _, rest = head.partition(":")
        raw, *opts = rest.split(",")
        try:
            value = Decimal(raw)
        except Exception:
            raise UserError(f"sizing {text!r} is not valid: use {VALID}") from None
        if method not in _OPTIONS or not value.is_finite() or value <= 0:
            raise UserError(f"sizing {text!r} is not valid: use {VALID}")
        if method == "fraction" and value > 1:
            raise UserError(f"sizing {text!r} is not valid: a fraction must be in (0, 1]")
        if method == "risk" and value > 100:
            raise UserError(f"sizing {text!r} is not valid: risk is a percent of equity in (0, 100]")
        if method == "vol" and value > 100:
            raise UserError(
                f"sizing {text!r} is not valid: vol is an annual volatility target in percent in (0, 100], "
                "e.g. vol:10"
            )
        if method == "kelly" and value > 1:
            raise UserError(
                f"sizing {text!r} is not valid: the Kelly multiplier must be in (0, 1], e.g. kelly:0.5 for "
                "half Kelly"
            )
        options = _parse_options(text, method, opts)
        sizing = replace(Sizing(method, value, drawdown=drawdown), **options)
        if method == "kelly":
            _check_kelly(text, sizing)
        return sizing

    def describe(self) -> str:
        """The canonical sizing string (parses back to an equal Sizing)."""
        base = "all_in" if self.method == "fraction" and self.value == 1 else f"{self.method}:{self.value}"
        for key in _OPTIONS[self.method]:
            current, default = getattr(self, key), getattr(_DEFAULTS, key)
            if current != default:
                base += f",{key}={current}"
        return base if self.drawdown is None else f"{base};{self.drawdown.describe()}"


_DEFAULTS = Sizing("fraction")

# per method, in canonical order: option -> (whole number?, what a valid value is)
_OPTIONS: dict[str, dict[str, tuple[bool, str]]] = {
    "fraction": {},
    "units": {},
    "risk": {
        "atr": (False, "a positive ATR multiple, e.g. atr=3"),
        "period": (True, "bars >= 1, e.g. period=20"),
    },
    "vol": {"lookback": (True, "a number of returns >= 2, e.g. lookback=20")},
    "kelly": {
        "cap": (False, "a fraction of equity in (0, 1], e.g. cap=0.25"),
        "min_trades": (True, "a number of trades >= 1, e.g. min_trades=20"),
        "window": (True, "a number of trades >= 1, e.g. window=100"),
        "fallback": (False, "a fraction of equity in (0, 1], e.g. fallback=0.01"),
    },
}


def _option_list(method: str) -> str:
    keys = list(_OPTIONS[method])
    return f"valid options for {method} are {', '.join(keys)}" if keys else f"{method} takes no options"


def _parse_options(text: str, method: str, items: list[str]) -> dict[str, Any]:
    """`key=value` items after the method's value, checked against the method's options."""
    out: dict[str, Any] = {}  # Decimal or int, by the option
    for item in items:
        key, eq, raw = (part.strip() for part in item.partition("="))
        spec = _OPTIONS[method].get(key)
        if spec is None or not eq:
            what = (
                f"option {item.strip()!r} is not key=value" if spec is not None else f"unknown option {key!r}"
            )
            raise UserError(f"sizing {text!r} is not valid: {what}; {_option_list(method)}")
        if key in out:
            raise UserError(f"sizing {text!r} is not valid: option {key} is given twice; give it once")
        integer, hint = spec
        value = _option_value(raw, integer, key)
        if value is None:
            raise UserError(f"sizing {text!r} is not valid: option {key}={raw} must be {hint}")
        out[key] = value
    return out


def _option_value(raw: str, integer: bool, key: str) -> Decimal | int | None:
    """The option's value when it is in range, else None."""
    try:
        d = Decimal(raw)
    except (InvalidOperation, ValueError):
        return None
    if not d.is_finite() or d <= 0:
        return None
    if integer:
        if d != d.to_integral_value():
            return None
        n = int(d)
        return n if n >= (2 if key == "lookback" else 1) else None
    if key in {"cap", "fallback"} and d > 1:
        return None
    return d


def _check_kelly(text: str, s: Sizing) -> None:
    if s.fallback > s.cap:
        raise UserError(
            f"sizing {text!r} is not valid: option fallback={s.fallback} exceeds cap={s.cap}; lower fallback "
            "or raise cap"
        )
    if s.window < s.min_trades:
        raise UserError(
            f"sizing {text!r} is not valid: option window={s.window} is below min_trades={s.min_trades}, so "
            "Kelly would never apply; raise window or lower min_trades"
        )


def _parse_drawdown(text: str, mods: list[str]) -> DrawdownCut:
    """The `;dd=START:FULL:FLOOR` modifier (the only one there is)."""
    if len(mods) > 1:
        raise UserError(f"sizing {text!r} is not valid: give one ;dd= modifier at most ({_DD_HELP})")
    key, eq, raw = (part.strip() for part in mods[0].partition("="))
    if key != "dd" or not eq:
        raise UserError(f"sizing {text!r} is not valid: unknown modifier {mods[0].strip()!r}; {_DD_HELP}")
    parts = raw.split(":")
    try:
        start, full, floor = (Decimal(p) for p in parts)
    except (InvalidOperation, ValueError):
        raise UserError(f"sizing {text!r} is not valid: {_DD_HELP}") from None
    if not all(d.is_finite() for d in (start, full, floor)):
        raise UserError(f"sizing {text!r} is not valid: {_DD_HELP}")
    if not (0 <= start < full <= 100 and 0 < floor <= 1):
        raise UserError(f"sizing {text!r} is not valid: {_DD_HELP}")
    return DrawdownCut(start, full, floor)


def atr_distance(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> float:
    """Mean true range of the last `period` closed bars (NaN with fewer than two bars)."""
    n = len(close)
    if n < 2:
        return float("nan")
    lo = max(1, n - period)
    h, l_, pc = high[lo:n], low[lo:n], close[lo - 1 : n - 1]
    tr = np.maximum(h - l_, np.maximum(np.abs(h - pc), np.abs(l_ - pc)))
    return float(tr.mean())

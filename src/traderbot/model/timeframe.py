"""Bar timeframes ("1m", "15m", "4h", "1d") parsed once into a fixed length in nanoseconds."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS_NS = {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000}
_PATTERN = re.compile(r"^(\d+)([smhd])$")
VALID_EXAMPLES = "1m, 5m, 15m, 30m, 1h, 4h, 1d"


@dataclass(frozen=True, slots=True)
class Timeframe:
    """A fixed bar length; `name` is canonical (e.g. '15m'), `ns` its length in nanoseconds."""

    name: str
    ns: int

    @staticmethod
    def parse(text: str) -> Timeframe:
        """Parse '15m', '4h', '1d', also 'M15', 'H4', 'D1', 'D' (OANDA style)."""
        t = text.strip()
        oanda = re.fullmatch(r"([SMHD])(\d*)", t.upper())
        if oanda and not _PATTERN.match(t.lower()):
            unit, num = oanda.group(1).lower(), oanda.group(2) or "1"
            t = f"{int(num)}{unit}"
        m = _PATTERN.match(t.lower())
        if not m or int(m.group(1)) <= 0:
            raise ValueError(f"unknown timeframe {text!r}: use a number and a unit, e.g. {VALID_EXAMPLES}")
        n, unit = int(m.group(1)), m.group(2)
        return Timeframe(f"{n}{unit}", n * _UNITS_NS[unit])

    @property
    def seconds(self) -> int:
        return self.ns // 1_000_000_000

    @property
    def pandas_freq(self) -> str:
        unit = {"s": "s", "m": "min", "h": "h", "d": "D"}[self.name[-1]]
        return f"{self.name[:-1]}{unit}"

    def __str__(self) -> str:
        return self.name

"""OANDA wire primitives: instrument names, DateTime strings and decimal fields.

OANDA sends prices, units and money as decimal strings; we parse them straight into `Decimal` (never via
float). DateTimes are requested as UNIX ("1466620889.264030555", exact to the nanosecond); RFC 3339 answers
("2016-06-22T18:41:29.264030555Z") are read too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from traderbot.brokers.base import MalformedMessage

NS = 1_000_000_000
_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9})\d*)?(Z|[+-]\d{2}:\d{2})$")
_UNIX = re.compile(r"^(\d+)(?:\.(\d{1,9})\d*)?$")


class SymbolMap:
    """Our ids ("EURUSD", "XAUUSD") <-> OANDA names ("EUR_USD", "XAU_USD").

    The default rule takes the last three letters as the quote currency; `overrides` (ours -> OANDA) cover
    the rest, and names learned from the instruments endpoint resolve ids such as "SPX500USD".
    """

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self._to_oanda = {k.upper(): v for k, v in (overrides or {}).items()}
        self._to_ours = {v: k for k, v in self._to_oanda.items()}

    def learn(self, oanda_name: str) -> str:
        """Remember an OANDA name seen on the wire; returns our id for it."""
        ours = self.ours(oanda_name)
        self._to_oanda.setdefault(ours, oanda_name)
        return ours

    def oanda(self, instrument_id: str) -> str:
        key = instrument_id.strip().upper().replace("/", "")
        if key in self._to_oanda:
            return self._to_oanda[key]
        if "_" in key:
            return key
        if len(key) < 4:
            raise ValueError(
                f"instrument {instrument_id!r} has no OANDA name: add it to the OANDA symbol map"
            )
        return f"{key[:-3]}_{key[-3:]}"

    def ours(self, oanda_name: str) -> str:
        return self._to_ours.get(oanda_name) or oanda_name.replace("_", "")


def parse_time(value: Any, what: str = "time") -> int:
    """A v20 DateTime (UNIX or RFC 3339 string) -> UTC nanoseconds; MalformedMessage if unreadable."""
    text = value.strip() if isinstance(value, str) else ""
    m = _UNIX.match(text)
    if m:
        return int(m.group(1)) * NS + int((m.group(2) or "").ljust(9, "0"))
    m = _RFC3339.match(text)
    if m:
        zone = "+00:00" if m.group(3) == "Z" else m.group(3)
        seconds = int(datetime.fromisoformat(m.group(1) + zone).timestamp())
        return seconds * NS + int((m.group(2) or "").ljust(9, "0"))
    raise MalformedMessage(f"OANDA sent {what}={value!r}, which is not a UNIX or RFC 3339 time")


def format_time(ts_ns: int) -> str:
    """UTC nanoseconds -> a UNIX DateTime string as OANDA accepts in requests."""
    sec, frac = divmod(ts_ns, NS)
    return f"{sec}.{frac:09d}"


def dec(value: Any, what: str) -> Decimal:
    """A decimal string (or an exact JSON number) -> Decimal; MalformedMessage otherwise."""
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            out = Decimal(value.strip())
        except InvalidOperation:
            pass
        else:
            if out.is_finite():
                return out
    raise MalformedMessage(f"OANDA sent {what}={value!r}, which is not a decimal number")


def opt_dec(value: Any, what: str) -> Decimal | None:
    return None if value is None or value == "" else dec(value, what)


def text(obj: Mapping[str, Any], key: str) -> str:
    """A required string field; MalformedMessage naming it when missing."""
    value = obj.get(key)
    if value is None or value == "":
        raise MalformedMessage(f"OANDA {obj.get('type', 'object')} lacks the documented field {key!r}")
    return str(value)


def quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)

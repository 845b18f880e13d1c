"""Messages as JSON-ready dicts, for the event log, Redis pub/sub and the API.

Every bus message is a NamedTuple or a frozen dataclass; `to_jsonable` turns one into a dict with its type name
under "type" and its fields converted: Decimal -> str (exact), Enum -> value, NamedTuple/dataclass -> dict,
mapping -> dict, sequence -> list, numpy scalar -> Python number. `dumps` gives compact JSON text.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any


def _value(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return v if v == v and v not in (float("inf"), float("-inf")) else str(v)
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, Enum):
        return _value(v.value)
    if hasattr(v, "_asdict"):
        return {k: _value(x) for k, x in v._asdict().items()}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: _value(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, Mapping):
        return {str(k): _value(x) for k, x in v.items()}
    if isinstance(v, list | tuple | set | frozenset):
        return [_value(x) for x in v]
    item = getattr(v, "item", None)  # numpy scalars
    if callable(item):
        return _value(item())
    return str(v)


def to_jsonable(message: Any) -> dict[str, Any]:
    """{"type": <class name>, **fields}; a plain value becomes {"type": ..., "value": ...}."""
    body = _value(message)
    name = type(message).__name__
    return {"type": name, **body} if isinstance(body, dict) else {"type": name, "value": body}


def dumps(message: Any) -> str:
    return json.dumps(to_jsonable(message), separators=(",", ":"), sort_keys=False)

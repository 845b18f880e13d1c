"""Parameter versions: each training (or manual save) of a pair's strategy parameters gets the next number."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from traderbot.errors import UserError


@dataclass(frozen=True, slots=True)
class ParamsVersion:
    """One saved parameter set of a pair: version 1, 2, 3... with the metrics it was chosen on.

    `metrics` are statistics (floats are fine); `metrics["oos_quality"]`, when present, is the out-of-sample
    score the CLI shows. `source` says where it came from (a training job id, "manual", an import)."""

    pair: str
    version: int
    strategy: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    created_ns: int = 0

    @staticmethod
    def from_row(r: Mapping[str, Any]) -> ParamsVersion:
        return ParamsVersion(r["pair"], r["version"], r["strategy"], from_json(r["params"]),
                             from_json(r["metrics"]), r["source"], r["created_ns"])  # fmt: skip


def _plain(value: Any) -> Any:
    """numpy scalars become Python numbers, Decimals become text; anything else is refused."""
    if isinstance(value, Decimal):
        return str(value)
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def to_json(what: str, value: dict[str, Any]) -> str:
    """JSON text of a params/metrics/details dict; a value that cannot be stored is a UserError."""
    if not isinstance(value, dict):
        raise UserError(f"{what} must be a mapping of names to values, not {type(value).__name__}")
    try:
        return json.dumps(value, sort_keys=True, default=_plain, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise UserError(
            f"{what} cannot be stored as JSON ({exc}): use numbers, text, lists and mappings"
        ) from None


def from_json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {"value": value}

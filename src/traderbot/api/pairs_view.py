"""GET /api/v1/pairs, answered from a rendered copy that is rebuilt only when a pair changed.

Every change of a pair (added, removed, enabled, disabled, a state move, parameters saved or activated) writes an
entry to `pair_events` in the same transaction as the change, whoever makes it (this API, the CLI, the service).
The newest entry's id is therefore the listing's version: one indexed lookup per call tells whether the copy is
current; only when it is not are the pairs and their parameter versions read and the JSON rendered again.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from sqlalchemy import Engine, func, select

from traderbot.api.views import iso, pair_json
from traderbot.pairs import PairRegistry
from traderbot.store.pair_models import PairEventRow as E


class PairsListing:
    def __init__(self, engine: Engine, trader_id: str, registry: PairRegistry) -> None:
        self.engine, self.trader_id, self.registry = engine, trader_id, registry
        self._latest = select(func.max(E.id)).where(E.trader_id == trader_id)
        self._version: int | None = -1
        self._body = b'{"pairs":[]}'
        self._lock = threading.Lock()

    def version(self) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(self._latest).scalar_one_or_none()

    def current(self) -> bytes:
        """The listing as JSON, as of the newest pair change (rebuilt when that is newer than the copy)."""
        seen = self.version()
        if seen == self._version:
            return self._body
        with self._lock:
            if seen != self._version:
                # read after the version: a change in between only makes the next call build again
                body = json.dumps(self._build(), separators=(",", ":")).encode()
                self._body, self._version = body, seen
            return self._body

    def _build(self) -> dict[str, Any]:
        last: dict[str, int] = {}
        quality: dict[tuple[str, int], Any] = {}
        for v in self.registry.all_params_versions():
            last[v.pair] = max(last.get(v.pair, 0), v.created_ns)
            quality[(v.pair, v.version)] = v.metrics.get("oos_quality")
        rows = [{**pair_json(r), "last_trained": iso(last.get(r.pair)),
                 "oos_quality": quality.get((r.pair, r.active_version or 0))}
                for r in self.registry.list()]  # fmt: skip
        return {"pairs": rows}

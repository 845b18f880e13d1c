"""Market-data cache health per registered pair, for GET /api/v1/cache/status.

A pair the running service keeps fresh (live mode: `service.cache_job.health`) is reported as the service saw it
after its last refresh. Any other pair is validated now, read-only and without re-hashing, from the data folder's
cache (`<data_dir>/store`), found in this order: the running service's data folder; the `data_dir` of the
configuration the service last stored; the folder of a SQLite database file. Validation uses the `[cache]`
thresholds of the active configuration and the wall clock."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from traderbot.api.config_ops import active_config
from traderbot.api.context import ApiContext
from traderbot.config.loader import resolve_data_dir
from traderbot.data.cache_validate import CacheConfig
from traderbot.data.market_cache import MarketDataCache
from traderbot.data.store import ParquetBarStore
from traderbot.errors import UserError

FIELDS = ("valid", "score", "last_bar", "checksum", "reasons")


def locate(ctx: ApiContext) -> tuple[Path | None, CacheConfig, str]:
    """The data folder's cache folder (None when none is found), the thresholds and how it was found."""
    if ctx.service is not None:
        return Path(ctx.service.state.path) / "store", ctx.service.settings.cache, "the running service"
    active = active_config(ctx)
    config = CacheConfig() if active.config is None else active.config.cache.to_cache_config()
    candidates: list[tuple[Path, str]] = []
    if active.config is not None and active.path is not None:
        candidates.append(
            (resolve_data_dir(active.config, active.path) / "store", "the stored configuration")
        )
    url = ctx.engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        candidates.append((Path(str(url.database)).resolve().parent / "store", "the database's folder"))
    for root, how in candidates:
        if root.is_dir():
            return root, config, how
    return None, config, "none"


def _validated(cache: MarketDataCache, pair: str, timeframe: str) -> dict[str, Any]:
    try:
        health = cache.status([pair], timeframe)[0]
    except UserError as exc:  # no file for the pair, or an unknown instrument: invalid, and why
        return {"valid": False, "score": 0.0, "last_bar": None, "checksum": None, "reasons": [str(exc)]}
    data = health.to_dict()
    return {k: data[k] for k in FIELDS}


def _service_health(ctx: ApiContext) -> dict[str, dict[str, Any]]:
    """The running service's view (read from this thread while its loop may update it: retried if it moved)."""
    if ctx.service is None:
        return {}
    for _ in range(5):
        try:
            return ctx.service._cache_status()
        except RuntimeError:  # the health dict changed size while it was read
            time.sleep(0.001)
    return {}


def cache_status(ctx: ApiContext) -> dict[str, Any]:
    live = _service_health(ctx)
    root, config, how = locate(ctx)
    cache = None
    if root is not None and root.is_dir():
        cache = MarketDataCache(ParquetBarStore(root, read_only=True), config, time.time_ns)
    missing = (f"the data folder has no market-data cache ({root}): fill it with `traderbot cache refresh`"
               if root is not None else "no market-data cache folder was found: run the API with `traderbot run`, "
               "or beside a service that stored its configuration")  # fmt: skip
    rows = []
    for rec in ctx.registry.list():
        row: dict[str, Any] = {"pair": rec.pair, "timeframe": rec.timeframe, "state": rec.state.value}
        if rec.pair in live:
            row.update(source="service", **{k: live[rec.pair].get(k) for k in FIELDS})
        elif cache is not None:
            row.update(source="data_folder", **_validated(cache, rec.pair, rec.timeframe))
        else:
            row.update(source="none", valid=None, score=None, last_bar=None, checksum=None,
                       reasons=[missing])  # fmt: skip
        rows.append(row)
    return {"store": None if root is None else str(root), "found_by": how,
            "pairs": rows, "valid": sum(1 for r in rows if r["valid"]),
            "invalid": sum(1 for r in rows if r["valid"] is False)}  # fmt: skip

"""The validated market-data cache: one facade over the Parquet store, its checksums, validation, repair
and refresh, per pair and timeframe, always relative to an injected clock (simulated or real time)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from traderbot.data import cache_manifest
from traderbot.data.cache_manifest import ManifestEntry
from traderbot.data.cache_repair import CandleSource, RepairResult
from traderbot.data.cache_repair import repair as repair_series
from traderbot.data.cache_schedule import RefreshResult
from traderbot.data.cache_schedule import refresh as refresh_pairs
from traderbot.data.cache_validate import CacheConfig, CacheHealth, validate
from traderbot.data.store import ParquetBarStore, normalize_instrument, parse_timeframe
from traderbot.errors import UserError
from traderbot.model.instrument import INSTRUMENTS

__all__ = ["CacheConfig", "CacheHealth", "MarketDataCache", "RefreshResult", "RepairResult"]


class MarketDataCache:
    """Validated bars per pair and timeframe.

    `now_ns` is the clock every check is relative to; `on_invalid(pair, reason)` is called when a validation
    finds a pair invalid that the previous validation (in this process) found valid, so the pair registry
    can move it out of trading.
    """

    def __init__(
        self,
        store: ParquetBarStore,
        config: CacheConfig | None = None,
        now_ns: Callable[[], int] = time.time_ns,
        *,
        on_invalid: Callable[[str, str], None] | None = None,
    ) -> None:
        self.store = store
        self.config = config or CacheConfig()
        self.now_ns = now_ns
        self.on_invalid = on_invalid
        self._last_valid: dict[tuple[str, str], bool] = {}

    def pairs(self, timeframe: str = "1m") -> list[str]:
        """Instruments stored at `timeframe`."""
        tf = parse_timeframe(timeframe).name
        return [inst for inst, t in self.store.available() if t == tf]

    def resolve_pairs(self, pairs: Sequence[str] | None, timeframe: str = "1m") -> list[str]:
        """Canonical keys of the named pairs (UserError for an unknown one), or every stored pair."""
        if pairs:
            return [self._known(p, timeframe) for p in pairs]
        return self._stored_or_fail(timeframe)

    def status(self, pairs: Sequence[str] | None = None, timeframe: str = "1m") -> list[CacheHealth]:
        """Health of each pair (all stored ones by default); fast: a file whose size and mtime match its
        manifest is not re-hashed."""
        chosen = self.resolve_pairs(pairs, timeframe)
        return [self._check(p, timeframe, rehash=False) for p in chosen]

    def validate(self, pair: str, timeframe: str = "1m") -> CacheHealth:
        """Full validation of one pair, re-hashing the file."""
        return self._check(pair, timeframe, rehash=True)

    def record(self, pair: str, timeframe: str = "1m") -> ManifestEntry | None:
        """Record the checksum of a file that has none yet (a recorded mismatch is never overwritten)."""
        path = self._existing_path(pair, timeframe)
        if cache_manifest.load(path) is not None:
            return None
        return cache_manifest.record(path)

    def invalid_reason(self, pair: str, timeframe: str = "1m") -> str | None:
        """None when the pair's cache is valid now, else one line saying why (the trading guard)."""
        try:
            health = self._check(pair, timeframe, rehash=False)
        except UserError as exc:
            return str(exc)
        return None if health.valid else "; ".join(health.failures)

    async def repair(self, pair: str, timeframe: str, source: CandleSource) -> RepairResult:
        """Re-fetch what is missing or corrupt from `source`, swap the file in atomically, or quarantine it."""
        key = self._known(pair, timeframe)
        result = await repair_series(self.store, key, timeframe, source, self.now_ns(), self.config)
        self._observe(key, parse_timeframe(timeframe).name, result.after)
        return result

    async def refresh(
        self, pairs: Sequence[str] | None, timeframe: str, source: CandleSource
    ) -> list[RefreshResult]:
        """Append bars from each pair's last stored bar up to now (all stored pairs by default)."""
        chosen = self.resolve_pairs(pairs, timeframe)
        return await refresh_pairs(self, source, chosen, self.now_ns(), timeframe)

    def _check(self, pair: str, timeframe: str, *, rehash: bool) -> CacheHealth:
        path = self._existing_path(pair, timeframe)
        key, tf = normalize_instrument(pair), parse_timeframe(timeframe).name
        health = validate(path, key, tf, self.now_ns(), self.config, rehash=rehash)
        self._observe(key, tf, health)
        return health

    def _observe(self, key: str, tf: str, health: CacheHealth) -> None:
        """Remember validity; report a valid -> invalid transition through on_invalid."""
        before = self._last_valid.get((key, tf))
        self._last_valid[(key, tf)] = health.valid
        if before is True and not health.valid and self.on_invalid is not None:
            self.on_invalid(key, "; ".join(health.failures))

    def _known(self, pair: str, timeframe: str) -> str:
        """Canonical key of a pair that is a known instrument or already stored; UserError otherwise."""
        key = normalize_instrument(pair)
        if key not in INSTRUMENTS and not self.store.has(key, timeframe):
            raise UserError(
                f"unknown pair {pair!r}: it is neither a known instrument nor stored in {self.store.root}; "
                "check the spelling (e.g. EURUSD) or import its bars with 'traderbot data import'"
            )
        return key

    def _existing_path(self, pair: str, timeframe: str) -> Path:
        key = self._known(pair, timeframe)
        tf = parse_timeframe(timeframe).name
        path = self.store.path_for(key, tf)
        if not path.is_file():
            raise UserError(
                f"no {tf} data for {key} in the cache at {self.store.root}; fill it with "
                f"'traderbot cache refresh {key} --source store:PATH' or 'traderbot data import'"
            )
        return path

    def _stored_or_fail(self, timeframe: str) -> list[str]:
        stored = self.pairs(timeframe)
        if not stored:
            raise UserError(
                f"the cache at {self.store.root} holds no {parse_timeframe(timeframe).name} series; "
                "name the pairs or fill it with 'traderbot cache refresh PAIR --source ...'"
            )
        return stored

"""VWAP: a total quantity spread over a window in proportion to the volume expected at each time of day.

    self.buy(30_000, algo=VWAP(duration="3h", slices=36, sessions=5, bucket="15m"))

The expected volume comes from a `VolumeProfile` learned from the instrument's stored bars that had closed before
the algorithm was submitted (the last `sessions` complete days), or from a profile you pass. Slice k covers
[t_k, t_k+1) and gets the profile's mass over that interval, normalised over the window:
    size_k = quantity * mass(t_k, t_k+1) / mass(start, end)
(cumulative targets rounded down to lots; slices smaller than one lot are merged into the next). With
`max_participation`, a slice never exceeds that fraction of the volume traded in the interval before it (bars
already closed); the excess is carried forward and, with `final_sweep`, swept at the end.
"""

from __future__ import annotations

import math
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import numpy as np

from traderbot.execution.algos.base import AlgoRun
from traderbot.execution.algos.engine import AlgoEngine
from traderbot.execution.algos.parent import AlgoConfigError, AlgoRefusal, ParentOrder
from traderbot.execution.algos.schedule import ScheduledRun, SliceStyle
from traderbot.execution.algos.slicing import (
    MAX_JITTER,
    cumulative,
    iso,
    parse_duration,
    parse_fraction,
    parse_slices,
    parse_time,
    slice_times,
    weighted_slices,
)
from traderbot.execution.algos.twap import parse_style, seeded_rng, window
from traderbot.execution.algos.volume_profile import DAY_NS, NoVolumeProfile, VolumeProfile
from traderbot.model.instrument import Instrument


@dataclass(frozen=True, slots=True, init=False)
class VWAP:
    """Volume-weighted execution over `duration` from `start` (default: now)."""

    duration_ns: int
    slices: int | None
    start_ns: int | None
    sessions: int
    bucket_ns: int
    tz: str
    profile: VolumeProfile | None
    style: SliceStyle
    jitter: float
    seed: int | None
    name = "vwap"

    def __init__(
        self,
        duration: str | int | timedelta,
        slices: int | None = None,
        *,
        start: int | str | datetime | None = None,
        sessions: int = 20,
        bucket: str | int | timedelta = "15m",
        tz: str = "UTC",
        profile: VolumeProfile | None = None,
        max_participation: Decimal | float | str | None = None,
        order_type: str = "market",
        limit_offset: Decimal | float | str = Decimal(0),
        jitter: float = 0.0,
        seed: int | None = None,
        final_sweep: bool = True,
        max_failures: int = 3,
    ) -> None:
        bucket_ns = parse_duration(bucket, "bucket")
        if DAY_NS % bucket_ns:
            raise AlgoConfigError(
                f"bucket {bucket!r} must divide a day evenly, e.g. '5m', '15m', '30m', '1h'"
            )
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            raise AlgoConfigError(f"unknown time zone {tz!r}: use e.g. 'UTC' or 'America/New_York'") from None
        set_ = object.__setattr__
        set_(self, "duration_ns", parse_duration(duration))
        set_(self, "slices", None if slices is None else parse_slices(slices))
        set_(self, "start_ns", parse_time(start))
        set_(self, "sessions", parse_slices(sessions, "sessions"))
        set_(self, "bucket_ns", bucket_ns)
        set_(self, "tz", tz)
        set_(self, "profile", profile)
        set_(
            self,
            "style",
            parse_style(order_type, limit_offset, final_sweep, max_failures, max_participation),
        )
        set_(self, "jitter", parse_fraction(jitter, "jitter", MAX_JITTER))
        set_(self, "seed", seed)

    def learn_profile(self, engine: AlgoEngine, instrument_id: str) -> VolumeProfile:
        """The profile from the bars of the instrument visible now (closed bars only: no look-ahead)."""
        cache = engine.cache
        idx = cache.primary.get(instrument_id)
        if idx is None:
            raise NoVolumeProfile(f"no bars loaded for {instrument_id}")
        s = cache.series[idx]
        n = cache.visible[idx]
        return VolumeProfile.learn(
            s.ts[:n],
            s.volume[:n],
            s.timeframe.ns,
            before_ns=engine.now(),
            sessions=self.sessions,
            bucket_ns=self.bucket_ns,
            tz=self.tz,
        )

    def plan(self, engine: AlgoEngine, parent: ParentOrder, inst: Instrument) -> AlgoRun | str:
        win = window(engine, self.start_ns, self.duration_ns)
        if isinstance(win, str):
            return win
        start, end = win
        now = engine.now()
        try:
            profile = self.profile or self.learn_profile(engine, parent.instrument_id)
        except NoVolumeProfile as exc:
            return AlgoRefusal.NO_VOLUME_PROFILE.text(str(exc))
        if profile.last_bar_close_ns > now:
            return AlgoRefusal.PROFILE_LOOKAHEAD.text(
                f"profile uses bars up to {iso(profile.last_bar_close_ns)}, now={iso(now)}; "
                "learn it with before_ns <= now"
            )
        n = self.slices or max(1, math.ceil((end - start) / profile.bucket_ns))
        bounds = [start + k * (end - start) // n for k in range(n)] + [end]
        weights = [profile.mass(a, b) for a, b in pairwise(bounds)]
        if not np.isfinite(sum(weights)) or sum(weights) <= 0:
            return AlgoRefusal.NO_VOLUME_IN_WINDOW.text(
                f"window {iso(start)} .. {iso(end)} has no volume in the {profile.sessions} sessions learned; "
                "move it into the trading session"
            )
        sizes = weighted_slices(parent.quantity, weights, inst)
        parent.start_ns, parent.end_ns = start, end
        times = slice_times(start, end, n, self.jitter, seeded_rng(self.seed, parent.parent_id))
        return ScheduledRun(
            engine, parent, inst, times=times, targets=cumulative(sizes), end_ns=end, style=self.style
        )

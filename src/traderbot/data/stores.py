"""Where bars live: the user's store layered over the read-only sample data bundled with traderbot."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from traderbot.data.store import ParquetBarStore, StoreEntry, TimeLike, normalize_instrument, parse_timeframe
from traderbot.errors import UserError

ENV_DATA_DIR = "TRADERBOT_DATA_DIR"
DEFAULT_DATA_DIR = Path("traderbot_data")


def sample_data_dir() -> Path:
    """Folder of the bundled sample store (inside the installed package)."""
    return Path(str(resources.files("traderbot") / "sample_data"))


def user_store_dir() -> Path:
    """`$TRADERBOT_DATA_DIR/store` when the variable is set, else `./traderbot_data/store`."""
    base = os.environ.get(ENV_DATA_DIR, "").strip()
    root = Path(base).expanduser() if base else Path.cwd() / DEFAULT_DATA_DIR
    return root / "store"


def default_store() -> ParquetBarStore:
    """The user's writable store."""
    return ParquetBarStore(user_store_dir(), name="user")


def sample_store() -> ParquetBarStore:
    """The read-only store of bundled sample data."""
    return ParquetBarStore(sample_data_dir(), read_only=True, name="sample")


class LayeredStore:
    """Reads from the user store first and falls back to sample data; writes go to the user store."""

    def __init__(self, user: ParquetBarStore, fallbacks: tuple[ParquetBarStore, ...] = ()) -> None:
        self.user = user
        self.fallbacks = fallbacks

    @property
    def layers(self) -> tuple[ParquetBarStore, ...]:
        """User store first, then the fallbacks."""
        return (self.user, *self.fallbacks)

    def locate(self, instrument_id: str, timeframe: str) -> ParquetBarStore:
        """The first layer holding the series; UserError listing what exists otherwise."""
        for layer in self.layers:
            if layer.has(instrument_id, timeframe):
                return layer
        raise UserError(self.missing_message(instrument_id, timeframe))

    def has(self, instrument_id: str, timeframe: str) -> bool:
        """True when any layer holds the series."""
        return any(layer.has(instrument_id, timeframe) for layer in self.layers)

    def read(
        self, instrument_id: str, timeframe: str, start: TimeLike = None, end: TimeLike = None
    ) -> pd.DataFrame:
        """Bars with start <= ts < end from the first layer that has them."""
        return self.locate(instrument_id, timeframe).read(instrument_id, timeframe, start, end)

    def write(
        self,
        instrument_id: str,
        timeframe: str,
        df: pd.DataFrame,
        *,
        mode: Literal["merge", "replace"] = "merge",
        provenance: dict[str, Any] | None = None,
    ) -> Path:
        """Write into the user store (see ParquetBarStore.write)."""
        return self.user.write(instrument_id, timeframe, df, mode=mode, provenance=provenance)

    def list(self) -> list[StoreEntry]:
        """Entries of every layer; `source` says which ('user' or 'sample')."""
        return [entry for layer in self.layers for entry in layer.list()]

    def missing_message(self, instrument_id: str, timeframe: str) -> str:
        """One sentence: what was asked, what exists, how to get it (`timeframe` may be e.g. 'any')."""
        key = normalize_instrument(instrument_id)
        try:
            want: int | None = parse_timeframe(timeframe).ns
            tf = parse_timeframe(timeframe).name
        except UserError:
            want, tf = None, timeframe
        entries = self.list()
        same = sorted(
            {e.timeframe for e in entries if e.instrument == key}, key=lambda t: parse_timeframe(t).ns
        )
        finer = [
            t for t in same if want and want % parse_timeframe(t).ns == 0 and parse_timeframe(t).ns < want
        ]
        if finer:
            how = f"traderbot data resample {key} --from {finer[-1]} --to {tf}"
            return f"no {tf} data for {key} (it is stored as {', '.join(same)}); build it with '{how}'"
        if same:
            return (
                f"no {tf} data for {key} (it is stored as {', '.join(same)}); "
                f"import {tf} or finer bars with 'traderbot data import FILE --instrument {key}'"
            )
        have = ", ".join(sorted({f"{e.instrument} {e.timeframe}" for e in entries})) or "nothing"
        return (
            f"no {tf} data for {key} in {self.user.root} or the sample data (available: {have}); "
            f"import it with 'traderbot data import FILE --instrument {key}'"
        )


def open_stores(root: Path | str | None = None, *, include_samples: bool = True) -> LayeredStore:
    """The user store (`root` or the default) layered over the bundled sample data."""
    user = ParquetBarStore(Path(root), name="user") if root is not None else default_store()
    fallbacks = (sample_store(),) if include_samples else ()
    return LayeredStore(user, fallbacks)

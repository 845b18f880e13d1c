"""Where a paper service's replay reads bars: the bundled samples, a folder of `<PAIR>_<tf>.parquet` files (the
layout of ../shared/data), or a bar store folder (`<PAIR>/<tf>.parquet`)."""

from __future__ import annotations

from pathlib import Path

from traderbot.data.loader import load_ohlcv_file
from traderbot.data.series import BarSeries
from traderbot.data.store import ParquetBarStore
from traderbot.data.stores import sample_store
from traderbot.errors import UserError


class Dataset:
    def __init__(self, spec: str, *, base: Path | None = None) -> None:
        self.spec = spec
        if spec in ("", "samples"):
            self.store: ParquetBarStore | None = sample_store()
            self.folder: Path | None = None
            return
        path = Path(spec).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        if not path.is_dir():
            raise UserError(f"replay dataset {spec!r}: no folder at {path}; use 'samples' or a data folder")
        files = list(path.glob("*_*.parquet"))
        self.store, self.folder = (None, path) if files else (ParquetBarStore(path, read_only=True), None)

    def describe(self) -> str:
        return "bundled samples" if self.spec in ("", "samples") else str(self.folder or self.spec)

    def has(self, pair: str, timeframe: str) -> bool:
        if self.folder is not None:
            return (self.folder / f"{pair}_{timeframe}.parquet").is_file()
        assert self.store is not None
        return self.store.has(pair, timeframe)

    def load(self, pair: str, timeframe: str) -> BarSeries:
        """The pair's whole series (gaps and all: the replay plays what was recorded)."""
        if not self.has(pair, timeframe):
            raise UserError(f"no {timeframe} bars for {pair} in the replay dataset ({self.describe()})")
        if self.folder is not None:
            df, _ = load_ohlcv_file(self.folder / f"{pair}_{timeframe}.parquet", instrument=pair,
                                    timeframe=timeframe)  # fmt: skip
        else:
            assert self.store is not None
            df = self.store.read(pair, timeframe)
        return BarSeries.from_frame(df, pair, timeframe)

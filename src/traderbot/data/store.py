"""Parquet bar store: one zstd Parquet file per instrument and timeframe, written atomically."""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from traderbot.data.frame import COLUMNS, empty_frame, ts_ns, validate_frame
from traderbot.errors import UserError
from traderbot.model.timeframe import Timeframe

try:  # POSIX advisory locks keep two writers from merging over each other
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

META_PREFIX = "traderbot."
FORMAT_VERSION = "1"
MAX_HISTORY = 50
ROW_GROUP_ROWS = 65_536
_ID_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,63}$")
SCHEMA = pa.schema([("ts", pa.timestamp("ns", tz="UTC"))] + [(c, pa.float64()) for c in COLUMNS[1:]])
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK
TimeLike = pd.Timestamp | datetime | str | int | None


@dataclass(frozen=True, slots=True)
class StoreEntry:
    """One stored series: instrument, timeframe, row count, first and last bar open time, file size."""

    instrument: str
    timeframe: str
    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    size_bytes: int
    path: Path
    source: str = "user"


def normalize_instrument(instrument_id: str) -> str:
    """Canonical store key for an instrument id ('eur_usd' -> 'EURUSD'); refuses path-like names."""
    key = instrument_id.strip().upper().replace("/", "").replace("_", "")
    if not _ID_RE.match(key):
        raise UserError(
            f"instrument id {instrument_id!r} is not usable as a store name; use letters, digits, '.' or '-'"
        )
    return key


def parse_timeframe(text: str) -> Timeframe:
    """Timeframe.parse with a user-facing error."""
    try:
        return Timeframe.parse(text)
    except ValueError as exc:
        raise UserError(str(exc)) from exc


def to_utc_timestamp(value: TimeLike) -> pd.Timestamp | None:
    """Parse a start/end bound (naive values are UTC); None stays None."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise UserError(
            f"cannot read {value!r} as a date/time; use e.g. 2023-01-31 or 2023-01-31T12:00Z"
        ) from exc
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).as_unit("ns")


def frame_to_table(df: pd.DataFrame, metadata: dict[str, str]) -> pa.Table:
    """Arrow table of a canonical frame with our key-value metadata."""
    arrays = [pa.array(ts_ns(df), type=pa.int64()).cast(SCHEMA.field("ts").type)]
    arrays += [pa.array(df[c].to_numpy(dtype=np.float64), type=pa.float64()) for c in COLUMNS[1:]]
    meta = {k.encode(): v.encode() for k, v in metadata.items()}
    return pa.Table.from_arrays(arrays, schema=SCHEMA.with_metadata(meta))


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    """Canonical frame from an Arrow table with our schema."""
    if table.num_rows == 0:
        return empty_frame()
    df = table.select(list(COLUMNS)).to_pandas()
    df["ts"] = df["ts"].dt.as_unit("ns")
    return df


class ParquetBarStore:
    """Bars under `<root>/<INSTRUMENT>/<timeframe>.parquet`; writes merge and replace files atomically."""

    def __init__(self, root: Path | str, *, read_only: bool = False, name: str = "user") -> None:
        self.root = Path(root)
        self.read_only = read_only
        self.name = name

    def path_for(self, instrument_id: str, timeframe: str) -> Path:
        """File holding one series (it may not exist)."""
        return self.root / normalize_instrument(instrument_id) / f"{parse_timeframe(timeframe).name}.parquet"

    def has(self, instrument_id: str, timeframe: str) -> bool:
        """True when the series exists in this store."""
        return self.path_for(instrument_id, timeframe).is_file()

    def read(
        self, instrument_id: str, timeframe: str, start: TimeLike = None, end: TimeLike = None
    ) -> pd.DataFrame:
        """Bars with start <= ts < end (either bound optional); unknown series raise UserError."""
        path = self.path_for(instrument_id, timeframe)
        if not path.is_file():
            raise UserError(self.missing_message(instrument_id, timeframe))
        lo, hi = to_utc_timestamp(start), to_utc_timestamp(end)
        filters: list[tuple[str, str, Any]] = []
        if lo is not None:
            filters.append(("ts", ">=", lo))
        if hi is not None:
            filters.append(("ts", "<", hi))
        table = pq.read_table(path, columns=list(COLUMNS), filters=filters or None)
        return table_to_frame(table)

    def metadata(self, instrument_id: str, timeframe: str) -> dict[str, str]:
        """The key-value metadata of a stored series (provenance, import history)."""
        path = self.path_for(instrument_id, timeframe)
        if not path.is_file():
            raise UserError(self.missing_message(instrument_id, timeframe))
        raw = pq.read_schema(path).metadata or {}
        return {k.decode(): v.decode() for k, v in raw.items() if not k.startswith(b"pandas")}

    def history(self, instrument_id: str, timeframe: str) -> list[dict[str, Any]]:
        """Import records (newest last) kept in the file's metadata."""
        raw = self.metadata(instrument_id, timeframe).get(META_PREFIX + "history", "[]")
        loaded = json.loads(raw)
        return loaded if isinstance(loaded, list) else []

    def list(self) -> list[StoreEntry]:
        """All stored series, sorted by instrument and timeframe length."""
        if not self.root.is_dir():
            return []
        entries = [self._entry(p) for p in sorted(self.root.glob("*/*.parquet")) if _is_series_file(p)]
        return sorted(entries, key=lambda e: (e.instrument, parse_timeframe(e.timeframe).ns))

    def available(self) -> builtins.list[tuple[str, str]]:
        """(instrument, timeframe) pairs in this store."""
        return [(e.instrument, e.timeframe) for e in self.list()]

    def missing_message(self, instrument_id: str, timeframe: str) -> str:
        """One sentence saying a series is not stored and what is."""
        have = ", ".join(f"{i} {t}" for i, t in self.available()) or "nothing yet"
        return (
            f"no {timeframe} data for {instrument_id} in {self.root} (available: {have}); "
            "import it with 'traderbot data import'"
        )

    def write(
        self,
        instrument_id: str,
        timeframe: str,
        df: pd.DataFrame,
        *,
        mode: Literal["merge", "replace"] = "merge",
        provenance: dict[str, Any] | None = None,
    ) -> Path:
        """Merge (new rows win on equal ts) or replace a series; the file is swapped in atomically."""
        if self.read_only:
            raise UserError(
                f"the store at {self.root} is read-only; write to your own store with --store DIR"
            )
        if mode not in ("merge", "replace"):
            raise UserError(f"unknown write mode {mode!r}; use 'merge' or 'replace'")
        key, tf = normalize_instrument(instrument_id), parse_timeframe(timeframe)
        new = validate_frame(df)
        path = self.path_for(key, tf.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock(path):
            old_meta: dict[str, str] = {}
            if path.is_file():
                old_meta = self.metadata(key, tf.name)
                if mode == "merge":
                    new = merge_frames(self.read(key, tf.name), new)
            meta = _build_metadata(key, tf.name, new, old_meta, provenance, mode)
            atomic_write_table(frame_to_table(new, meta), path)
        return path

    def delete(self, instrument_id: str, timeframe: str) -> bool:
        """Remove a stored series; True when something was removed."""
        if self.read_only:
            raise UserError(f"the store at {self.root} is read-only")
        path = self.path_for(instrument_id, timeframe)
        if not path.is_file():
            return False
        path.unlink()
        return True

    def _entry(self, path: Path) -> StoreEntry:
        meta = pq.read_metadata(path)
        kv = {k.decode(): v.decode() for k, v in (meta.metadata or {}).items()}
        first, last = kv.get(META_PREFIX + "first_ts"), kv.get(META_PREFIX + "last_ts")
        if first is None or last is None:
            stamps = pq.read_table(path, columns=["ts"]).column("ts")
            first = str(stamps[0].as_py()) if len(stamps) else None
            last = str(stamps[-1].as_py()) if len(stamps) else None
        return StoreEntry(
            instrument=path.parent.name,
            timeframe=path.stem,
            rows=meta.num_rows,
            first=to_utc_timestamp(first) if first else None,
            last=to_utc_timestamp(last) if last else None,
            size_bytes=path.stat().st_size,
            path=path,
            source=self.name,
        )

    @contextlib.contextmanager
    def _lock(self, path: Path) -> Iterator[None]:
        """Exclusive advisory lock on the instrument folder while a series is read, merged and replaced."""
        if fcntl is None:  # pragma: no cover - Windows
            yield
            return
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock


def _is_series_file(path: Path) -> bool:
    """True for `<INSTRUMENT>/<timeframe>.parquet` names this store could have written."""
    try:
        return (
            normalize_instrument(path.parent.name) == path.parent.name
            and parse_timeframe(path.stem).name == path.stem
        )
    except UserError:
        return False


def merge_frames(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Union of two canonical frames; rows of `new` replace rows of `old` with the same ts."""
    if len(old) == 0:
        return new
    if len(new) == 0:
        return old
    keep_old = ~np.isin(ts_ns(old), ts_ns(new))
    both = pd.concat([old.loc[keep_old], new], ignore_index=True)
    order = np.argsort(ts_ns(both), kind="stable")
    return both.iloc[order].reset_index(drop=True)


def _build_metadata(
    key: str, tf: str, df: pd.DataFrame, old: dict[str, str], provenance: dict[str, Any] | None, mode: str
) -> dict[str, str]:
    history: list[dict[str, Any]] = []
    if mode == "merge" and old.get(META_PREFIX + "history"):
        with contextlib.suppress(ValueError):
            history = list(json.loads(old[META_PREFIX + "history"]))
    record = {"written_at": datetime.now(UTC).isoformat(timespec="seconds"), "mode": mode, "rows": len(df)}
    record |= provenance or {}
    history = [*history, record][-MAX_HISTORY:]
    meta = {k: v for k, v in old.items() if not k.startswith(META_PREFIX)} if mode == "merge" else {}
    meta |= {
        META_PREFIX + "format_version": FORMAT_VERSION,
        META_PREFIX + "instrument": key,
        META_PREFIX + "timeframe": tf,
        META_PREFIX + "rows": str(len(df)),
        META_PREFIX + "history": json.dumps(history, default=str),
    }
    if len(df):
        meta[META_PREFIX + "first_ts"] = df["ts"].iloc[0].isoformat()
        meta[META_PREFIX + "last_ts"] = df["ts"].iloc[-1].isoformat()
    return meta


def atomic_write_table(table: pa.Table, path: Path) -> None:
    """Write a temp file in the same folder, fsync, then os.replace; any failure leaves `path` untouched."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, _FILE_MODE)  # mkstemp creates 0600; published files follow the umask
        with os.fdopen(fd, "wb") as handle:
            pq.write_table(table, handle, compression="zstd", row_group_size=ROW_GROUP_ROWS)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise UserError(
                f"could not write {path} ({exc.strerror or exc}); the previous data is unchanged, "
                "check free disk space and permissions"
            ) from exc
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

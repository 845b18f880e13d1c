"""Checksums of cached Parquet files: one sidecar `<file>.sha256.json` per series, written atomically.

The sidecar records what the cache last wrote (sha256 of the file bytes, size, mtime, row count, first and last
bar stamp, when it was written), so a later validation can tell a file that changed behind the cache's back
(bit rot, a half-copied file, a hand edit) from one the cache wrote itself. One sidecar per file, not one
manifest per store, so writers of different pairs never contend for the same manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import pyarrow.parquet as pq

ChecksumStatus = Literal["ok", "mismatch", "unrecorded", "unreadable"]
SUFFIX = ".sha256.json"
FORMAT = 1
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """What the cache knows about one file it wrote: content hash and a summary of its bars."""

    sha256: str
    size_bytes: int
    mtime_ns: int
    rows: int
    first_ts_ns: int | None
    last_ts_ns: int | None
    written_ns: int
    format: int = FORMAT


def sidecar_path(path: Path) -> Path:
    """The manifest file of a Parquet file (`1m.parquet` -> `1m.parquet.sha256.json`)."""
    return path.with_name(path.name + SUFFIX)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _stamps_summary(path: Path) -> tuple[int, int | None, int | None]:
    """Row count and first/last `ts` (ns) of a Parquet file; raises when the file cannot be read."""
    column = pq.read_table(path, columns=["ts"]).column("ts")
    rows = len(column)
    if rows == 0:
        return 0, None, None
    values = column.cast("int64").to_numpy()
    return rows, int(values.min()), int(values.max())


def record(path: Path, *, now_ns: int | None = None) -> ManifestEntry:
    """Hash `path` and write its sidecar atomically; call after every write or repair of the file."""
    rows, first, last = _stamps_summary(path)
    stat = path.stat()
    entry = ManifestEntry(
        sha256=file_sha256(path),
        size_bytes=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        rows=rows,
        first_ts_ns=first,
        last_ts_ns=last,
        written_ns=time.time_ns() if now_ns is None else now_ns,
    )
    _atomic_write_text(sidecar_path(path), json.dumps(asdict(entry), indent=2, sort_keys=True))
    return entry


def load(path: Path) -> ManifestEntry | None:
    """The recorded entry of `path`, or None when there is none (or the sidecar itself is unreadable)."""
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        raw = json.loads(side.read_text(encoding="utf-8"))
        return ManifestEntry(**{k: raw[k] for k in ManifestEntry.__dataclass_fields__ if k in raw})
    except (OSError, ValueError, TypeError):
        return None


def forget(path: Path) -> None:
    """Remove the sidecar of `path` (when the file itself moves away)."""
    with contextlib.suppress(FileNotFoundError):
        sidecar_path(path).unlink()


def check(path: Path, *, rehash: bool = True) -> ChecksumStatus:
    """Compare `path` with its sidecar: 'ok', 'mismatch', 'unrecorded' or 'unreadable' (missing file).

    With rehash=False a file whose size and mtime still match the sidecar is trusted without hashing
    (the fast path of `cache status`); any difference in either forces a full hash.
    """
    try:
        stat = path.stat()
    except OSError:
        return "unreadable"
    entry = load(path)
    if entry is None:
        return "unrecorded"
    if stat.st_size != entry.size_bytes:
        return "mismatch"
    if not rehash and stat.st_mtime_ns == entry.mtime_ns:
        return "ok"
    try:
        return "ok" if file_sha256(path) == entry.sha256 else "mismatch"
    except OSError:
        return "unreadable"


def _atomic_write_text(target: Path, text: str) -> None:
    """Temp file in the same folder, fsync, os.replace: readers see the old or the new sidecar, never half."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise

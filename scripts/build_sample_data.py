"""Build the bundled sample store (src/traderbot/sample_data) and its ATTRIBUTION.md from ../shared/data.

Only MIT / Apache-2.0 sources are bundled. Run: .venv/bin/python scripts/build_sample_data.py [--shared DIR]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from traderbot.data.frame import canonicalize
from traderbot.data.store import ParquetBarStore, table_to_frame

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "src" / "traderbot" / "sample_data"
DEFAULT_SHARED = REPO.parent / "shared" / "data"
PROVENANCE_KEYS = ("source_repo", "commit", "source_paths", "original_tz", "price", "licence", "note")
MAX_TOTAL_BYTES = 8 * 1024 * 1024


def sources(shared: Path) -> list[tuple[Path, str, str, str]]:
    """(source file, dataset, instrument, timeframe) for every bundled series."""
    out = []
    for f in sorted((shared / "oanda_fx_m15").glob("*_15m.parquet")):
        out.append((f, "oanda_fx_m15", f.stem.split("_")[0], "15m"))
    for pair in ("EURUSD", "GBPUSD", "USDJPY", "EURJPY"):
        out.append((shared / "dukascopy_multi" / f"{pair}_4h.parquet", "dukascopy_multi", pair, "4h"))
    out.append((shared / "lean_multi" / "SPY_1d.parquet", "lean_multi", "SPY", "1d"))
    return out


def source_metadata(path: Path) -> dict[str, str]:
    """The provenance key-value metadata of a shared-data file."""
    raw = pq.read_schema(path).metadata or {}
    meta = {k.decode(): v.decode() for k, v in raw.items()}
    return {k: meta[k] for k in PROVENANCE_KEYS if k in meta}


def attribution(rows: list[dict[str, str]]) -> str:
    """ATTRIBUTION.md text for the bundled files."""
    lines = [
        "# Sample data: sources, licences, provenance",
        "",
        "traderbot ships a few real market-data series so that examples and `traderbot data list` work",
        "out of the box. Their values are copied unchanged (converted to the store layout",
        "`<INSTRUMENT>/<tf>.parquet`, zstd) from public repositories whose licences allow redistribution",
        "(MIT or Apache-2.0). Each file's Parquet key-value metadata (`traderbot.history`) repeats the",
        "provenance below.",
        "Rebuild with `python scripts/build_sample_data.py`.",
        "",
        "| file | rows | span (UTC) | source repository | commit | source path | licence |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['file']}` | {r['rows']} | {r['span']} | {r.get('source_repo', '?')} | "
            f"`{r.get('commit', '?')[:12]}` | `{r.get('source_paths', '?')}` | {r.get('licence', '?')} |"
        )
    lines += ["", "## Notes per source", ""]
    seen: set[str] = set()
    for r in rows:
        key = r.get("source_repo", "?")
        if key in seen:
            continue
        seen.add(key)
        notes = sorted({x.get("note", "-") for x in rows if x.get("source_repo", "?") == key})
        lines += [
            f"### {key} (dataset `{r['dataset']}`)",
            "",
            f"- licence: {r.get('licence', '?')}",
            f"- commit: `{r.get('commit', '?')}`",
            f"- original time zone: {r.get('original_tz', '?')}",
            f"- price: {r.get('price', '?')}",
            *(f"- note: {n}" for n in notes),
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def build(shared: Path, target: Path) -> None:
    """Rebuild the sample store from scratch."""
    if target.exists():
        for child in target.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
    store = ParquetBarStore(target, name="sample")
    rows: list[dict[str, str]] = []
    for path, dataset, instrument, tf in sources(shared):
        df, _ = canonicalize(table_to_frame(pq.read_table(path)))
        meta = source_metadata(path)
        out = store.write(instrument, tf, df, mode="replace", provenance={"dataset": dataset, **meta})
        span = f"{df['ts'].iloc[0]:%Y-%m-%d} .. {df['ts'].iloc[-1]:%Y-%m-%d}"
        rows.append(
            {
                "file": str(out.relative_to(target)),
                "rows": f"{len(df):,}",
                "span": span,
                "dataset": dataset,
                **meta,
            }
        )
    (target / "ATTRIBUTION.md").write_text(attribution(rows), encoding="utf-8")
    total = sum(p.stat().st_size for p in target.rglob("*.parquet"))
    print(f"wrote {len(rows)} series, {total / 1_048_576:.2f} MB, into {target}")
    if total > MAX_TOTAL_BYTES:
        raise SystemExit(f"sample data is {total} bytes, above the {MAX_TOTAL_BYTES} byte budget")


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = parser.parse_args()
    build(args.shared, TARGET)


if __name__ == "__main__":
    main()

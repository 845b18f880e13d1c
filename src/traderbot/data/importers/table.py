"""Read a delimited text file as a table of strings, keeping each row's line number."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from traderbot.data.quality import BadRow
from traderbot.errors import UserError

DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class TextTable:
    """String cells by column name, the file line of each row, and rows that had the wrong field count."""

    cells: pd.DataFrame
    lines: np.ndarray
    ragged: list[BadRow]


def first_line(path: Path) -> str:
    """The first non-empty line of a text file (BOM removed)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            for line in handle:
                if line.strip():
                    return line.rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text; save it as UTF-8 (plain CSV) and import again") from exc
    raise UserError(f"file {path} has no content; there is nothing to import")


def sniff_delimiter(line: str) -> str:
    """The most frequent of , ; tab | in a line (comma when none occurs)."""
    counts = {d: line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def header_names(line: str, delimiter: str) -> list[str]:
    """Column names of a header line; empty names become column_N and repeats get a suffix."""
    raw = next(csv.reader([line], delimiter=delimiter))
    names: list[str] = []
    for i, name in enumerate(raw):
        base = name.strip() or f"column_{i + 1}"
        candidate, n = base, 2
        while candidate in names:
            candidate, n = f"{base}_{n}", n + 1
        names.append(candidate)
    return names


def _slow_read(path: Path, names: list[str], delimiter: str, skip: int) -> TextTable:
    """Line-by-line read that reports rows with the wrong number of fields."""
    rows: list[list[str]] = []
    lines: list[int] = []
    ragged: list[BadRow] = []
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        for row in reader:
            if reader.line_num <= skip or not any(f.strip() for f in row):
                continue
            if len(row) != len(names):
                ragged.append(
                    BadRow(f"line {reader.line_num}", f"expected {len(names)} fields, found {len(row)}")
                )
                continue
            rows.append(row)
            lines.append(reader.line_num)
    cells = pd.DataFrame(rows, columns=names, dtype=str) if rows else pd.DataFrame(columns=names, dtype=str)
    return TextTable(cells, np.asarray(lines, dtype=np.int64), ragged)


def read_text_table(path: Path, names: list[str], delimiter: str, *, has_header: bool) -> TextTable:
    """All cells as strings via the pandas C parser; falls back to a line scan when rows are ragged."""
    skip = 1 if has_header else 0
    try:
        cells = pd.read_csv(
            path,
            sep=delimiter,
            header=None,
            names=names,
            skiprows=skip,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
            encoding="utf-8-sig",
            quoting=csv.QUOTE_MINIMAL,
        )
    except pd.errors.ParserError:
        return _slow_read(path, names, delimiter, skip)
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text; save it as UTF-8 (plain CSV) and import again") from exc
    lines = np.arange(len(cells), dtype=np.int64) + skip + 1
    blank = np.all(cells.to_numpy() == "", axis=1)
    if blank.any():
        cells, lines = cells.loc[~blank].reset_index(drop=True), lines[~blank]
    return TextTable(cells, lines, [])

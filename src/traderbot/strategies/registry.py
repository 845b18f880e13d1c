"""Find strategies by name (built-ins) or load one from a user's Python file (one Strategy class per file)."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

from traderbot.errors import UserError
from traderbot.strategies.base import Strategy
from traderbot.strategies.qfh import Qfh
from traderbot.strategies.sma_cross import SmaCross
from traderbot.strategies.stoch_rsi import StochRsi

BUILTIN: dict[str, type[Strategy]] = {cls.name: cls for cls in (SmaCross, StochRsi, Qfh)}


def get_strategy(name: str) -> type[Strategy]:
    """A built-in by name, or `path/to/file.py` (optionally `file.py:ClassName`) for a user strategy."""
    if name in BUILTIN:
        return BUILTIN[name]
    path_text, _, cls_name = name.partition(":")
    if path_text.endswith(".py"):
        return _load_file(Path(path_text), cls_name or None)
    raise UserError(
        f"unknown strategy {name!r}: built-ins are {', '.join(sorted(BUILTIN))}, or give a .py file"
    )


def _load_file(path: Path, cls_name: str | None) -> type[Strategy]:
    if not path.is_file():
        raise UserError(
            f"strategy file {path} does not exist: give the path to a .py file with a Strategy class"
        )
    spec = importlib.util.spec_from_file_location(f"user_strategy_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot load {path}: is it a Python file?")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise UserError(f"strategy file {path} failed to import: {type(exc).__name__}: {exc}") from exc
    found = [
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, Strategy) and c.__module__ == module.__name__
    ]
    if cls_name:
        found = [c for c in found if c.__name__ == cls_name]
    if len(found) != 1:
        names = ", ".join(c.__name__ for c in found) or "none"
        raise UserError(
            f"{path} must define exactly one Strategy subclass (found: {names}); or use file.py:Class"
        )
    return found[0]

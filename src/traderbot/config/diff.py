"""What changed between two configurations, as human lines, and the masking of secrets everywhere we print.

Lines look like `pairs: + GBPUSD 15m sma_cross`, `pairs.EURUSD.params.fast: 20 -> 30`,
`risk.limits.max_order_notional: 2000000 -> 1000000`, `risk.collar.max_deviation_pct: unset -> 5`. Pairs are
matched by id (their order in the file does not matter); every other value by its dotted name. A value whose
key contains password, secret, token, api_key or key_id prints as `***`, and so does the password of a URL.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from traderbot.config.schema import SECRET_WORDS, SECTIONS, PairConfig, TraderbotConfig, is_secret

MASK = "***"
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/@\s\"']*:)([^@\s\"']+)(@)", re.IGNORECASE)
_WORDS = "|".join(SECRET_WORDS)
_SECRET_ASSIGN = re.compile(
    rf"""((?:^|[\s{{,.])["']?[A-Za-z0-9_\-]*(?:{_WORDS})[A-Za-z0-9_\-]*["']?\s*=\s*)"""
    r"""("(?:\\.|[^"\\])*"|'[^']*'|[^,}\s#]+)""",
    re.IGNORECASE | re.MULTILINE,
)


def mask_url(text: str) -> str:
    """`postgresql+psycopg://bot:hunter2@db/tb` -> `postgresql+psycopg://bot:***@db/tb`."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)


def mask_text(text: str) -> str:
    """TOML text with every secret-named value and every URL password replaced by `***`."""
    return mask_url(_SECRET_ASSIGN.sub(lambda m: f'{m.group(1)}"{MASK}"', text))


def mask_value(name: str, value: Any) -> Any:
    """A value as it may be printed: `***` under a secret name, URL passwords masked, dicts walked."""
    if is_secret(name):
        return MASK
    if isinstance(value, dict):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(name, v) for v in value]
    if isinstance(value, str):
        return mask_url(value)
    return value


def config_data(config: TraderbotConfig, *, masked: bool = True) -> dict[str, Any]:
    """The config as plain JSON-able data (Decimals as text, unset sections omitted), secrets masked."""
    data = _drop_none(config.model_dump(mode="json"))
    return mask_value("", data) if masked else data


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def fmt(value: Any) -> str:
    """A value as it reads in TOML: strings quoted, booleans lower-case, Decimals as written."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Decimal | int | float):
        return str(value)
    return json.dumps(value, default=str, sort_keys=True)


def flatten(value: Any, prefix: str) -> dict[str, Any]:
    """Dotted name -> leaf value; an empty dict is a leaf (so `{}` vs unset still shows)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _leaf_lines(old: Any, new: Any, prefix: str) -> list[str]:
    a, b = flatten(old, prefix), flatten(new, prefix)
    lines = []
    for key in sorted(set(a) | set(b), key=lambda k: (k not in a, k)):
        va, vb = a.get(key), b.get(key)
        if va != vb:
            if any(is_secret(part) for part in key.split(".")):
                lines.append(f"{key}: {MASK} -> {MASK} (changed)")
            else:
                lines.append(f"{key}: {fmt(mask_value('', va))} -> {fmt(mask_value('', vb))}")
    return lines


def pair_label(pair: PairConfig) -> str:
    flags = "" if pair.enabled else " (disabled)"
    return f"{pair.id} {pair.timeframe} {pair.strategy}{flags}"


def _pair_lines(old: tuple[PairConfig, ...], new: tuple[PairConfig, ...]) -> list[str]:
    a, b = {p.id: p for p in old}, {p.id: p for p in new}
    lines = [f"pairs: - {pair_label(p)}" for pid, p in a.items() if pid not in b]
    lines += [f"pairs: + {pair_label(p)}" for pid, p in b.items() if pid not in a]
    for pid in (pid for pid in a if pid in b and a[pid] != b[pid]):
        old_data, new_data = a[pid].model_dump(), b[pid].model_dump()
        lines += _leaf_lines(old_data, new_data, f"pairs.{pid}")
    if not lines and [p.id for p in old] != [p.id for p in new]:
        lines.append(f"pairs: order {' '.join(p.id for p in old)} -> {' '.join(p.id for p in new)}")
    return lines


def section_diff(old: TraderbotConfig, new: TraderbotConfig, section: str) -> list[str]:
    """The lines of one section (empty when it did not change)."""
    if section == "pairs":
        return _pair_lines(old.pairs, new.pairs)
    return _leaf_lines(
        _drop_none(old.section(section).model_dump()),
        _drop_none(new.section(section).model_dump()),
        section,
    )


def changed_sections(old: TraderbotConfig, new: TraderbotConfig) -> list[str]:
    """The top-level sections that differ, in the apply order (schema.SECTIONS)."""
    return [s for s in SECTIONS if old.section(s) != new.section(s)]


def diff_configs(old: TraderbotConfig, new: TraderbotConfig) -> list[str]:
    """Every change from `old` to `new` as human lines, secrets masked; [] when they are equal."""
    return [line for s in changed_sections(old, new) for line in section_diff(old, new, s)]

"""Load `traderbot.toml`: read, apply `TRADERBOT__SECTION__KEY` environment overrides, validate, and on any
problem raise ConfigError with one sentence naming the file, the line and the field, e.g.
`traderbot.toml line 14: pairs[1].timeframe = "7q" is not a timeframe (use e.g. 1m, 15m, 1h)`.

An empty file is valid and means every default. Environment values are read as TOML values (`9000`, `true`,
`"x"`) unless the setting is text, where the raw value is kept (`TRADERBOT__SERVICE__DATABASE_URL=postgresql+...`).
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from traderbot.config.diff import MASK, fmt
from traderbot.config.schema import FieldError, TraderbotConfig, default_config, is_secret
from traderbot.errors import UserError

ENV_PREFIX = "TRADERBOT__"
CONFIG_ENV = "TRADERBOT_CONFIG"
DEFAULT_FILE = "traderbot.toml"


class ConfigError(UserError):
    """A configuration file (or environment override) that cannot be used; the message is one sentence."""


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration with the exact text it came from and that text's sha256."""

    config: TraderbotConfig
    text: str
    sha256: str


def default_path() -> Path:
    """`$TRADERBOT_CONFIG`, else `traderbot.toml` in the working directory."""
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_FILE)


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> TraderbotConfig:
    """Read and validate the file with the environment's overrides; ConfigError names file, line and field."""
    return read_config(path, env).config


def read_config(path: str | Path, env: Mapping[str, str] | None = None) -> LoadedConfig:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"config file {p} not found: create one with `traderbot init --path {p}`, "
            f"or pass the path of yours (or set ${CONFIG_ENV})"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"config file {p} cannot be read ({exc.strerror}); check the path and permissions"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {p} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    config = parse_config(text, str(p), env)
    return LoadedConfig(config, text, hashlib.sha256(raw).hexdigest())


def parse_config(
    text: str, source: str = DEFAULT_FILE, env: Mapping[str, str] | None = None
) -> TraderbotConfig:
    """Validate TOML text (with overrides from `env`, default os.environ) into a TraderbotConfig."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_syntax_message(exc, source)) from None
    env_locs = apply_env(data, os.environ if env is None else env, source)
    try:
        return TraderbotConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = describe(errors[0], data, text, source, env_locs)
        more = f" ({len(errors) - 1} more problem{'s' if len(errors) > 2 else ''} after this one)"
        raise ConfigError(first + (more if len(errors) > 1 else "")) from None


def _syntax_message(exc: tomllib.TOMLDecodeError, source: str) -> str:
    msg = str(exc)
    m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", msg)
    reason = (msg[: m.start()] if m else msg.replace(" (at end of document)", "")).strip()
    reason = reason[:1].lower() + reason[1:]
    where = f"line {m.group(1)}, column {m.group(2)}" if m else "at the end"
    return f"{source} {where}: not valid TOML: {reason}; fix the syntax and load it again"


# ---- environment overrides --------------------------------------------------------------------------------
def apply_env(data: dict[str, Any], env: Mapping[str, str], source: str) -> dict[tuple[str, ...], str]:
    """Put `TRADERBOT__SECTION__KEY=value` overrides into the parsed data (in place); returns which location
    each variable set, so an error can name the variable instead of a line."""
    defaults = default_config().model_dump()
    locs: dict[tuple[str, ...], str] = {}
    for var in sorted(k for k in env if k.upper().startswith(ENV_PREFIX)):
        loc = tuple(part.lower() for part in var[len(ENV_PREFIX) :].split("__"))
        if not all(loc) or loc[0] == "pairs":
            raise ConfigError(
                f"environment variable {var}: cannot override {'.'.join(loc) or 'nothing'} "
                "(use TRADERBOT__SECTION__KEY for a setting; pairs are set in the file)"
            )
        target = data
        for part in loc[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(
                    f"environment variable {var}: {'.'.join(loc[:-1])} in {source} is not a table"
                )
        target[loc[-1]] = _env_value(env[var], _dig(defaults, loc))
        locs[loc] = var
    return locs


def _env_value(raw: str, default: Any) -> Any:
    if isinstance(default, str):
        return raw
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _dig(data: Any, loc: tuple[str | int, ...]) -> Any:
    for part in loc:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list | tuple) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data


# ---- error messages --------------------------------------------------------------------------------------
def describe(
    err: Any, data: dict[str, Any], text: str, source: str, env_locs: dict[tuple[str, ...], str]
) -> str:
    """One sentence for one pydantic error: `<file> line N: <field> = <value> <what is wrong>`."""
    loc: tuple[str | int, ...] = tuple(err["loc"])
    cause = (err.get("ctx") or {}).get("error")
    msg = str(cause) if isinstance(cause, Exception) else err["msg"]
    line_loc = None
    if isinstance(cause, FieldError):
        loc = (*loc, *cause.loc)
        line_loc = cause.line_loc
    msg = msg.removeprefix("Value error, ")
    if loc and loc[0] == "risk" and err["type"] == "value_error" and not isinstance(cause, FieldError):
        loc = _blame_key(loc, msg, data)
    name = dotted(loc)
    value = _dig(data, loc)
    shown = MASK if any(isinstance(p, str) and is_secret(p) for p in loc) else fmt(value)
    kind = err["type"]
    if kind == "extra_forbidden":
        valid = ", ".join(_valid_keys(loc[:-1])) or "none"
        where = f"[{dotted(loc[:-1])}]" if len(loc) > 1 else "the file"
        body = f"{name} is not a known setting; valid keys in {where} are: {valid}"
    elif kind == "missing":
        body = f"{name} is required"
    elif loc and loc[0] == "risk" and kind == "value_error":
        body = f"{name}: {msg}"  # the risk configuration's own sentence (it quotes the value itself)
    else:
        msg = "should be a list of [[pairs]] tables" if kind == "tuple_type" else msg
        msg = re.sub(r"^Input should", "should", msg)
        body = f"{name}{'' if value is None else ' = ' + shown} {msg[:1].lower()}{msg[1:]}"
    if line_loc is not None and line_of(text, loc) is None:
        loc = line_loc
    return f"{_where(loc, text, source, env_locs)}: {body}"


def _where(loc: tuple[str | int, ...], text: str, source: str, env_locs: dict[tuple[str, ...], str]) -> str:
    for end in range(len(loc), 0, -1):
        var = env_locs.get(tuple(str(p) for p in loc[:end]))
        if var is not None:
            return f"{source}: environment variable {var}"
    line = line_of(text, loc)
    return f"{source} line {line}" if line is not None else source


def dotted(loc: tuple[str | int, ...]) -> str:
    """("pairs", 1, "timeframe") -> "pairs[1].timeframe"."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _blame_key(loc: tuple[str | int, ...], msg: str, data: dict[str, Any]) -> tuple[str | int, ...]:
    """A risk section's whole-model check names its table; blame the key it quotes (by name, else value)."""
    table = _dig(data, loc)
    if not isinstance(table, dict):
        return loc
    named = [k for k in table if re.search(rf"\b{re.escape(str(k))}\b", msg)]
    if named:
        return (*loc, min(named, key=lambda k: msg.index(str(k))))
    got = re.search(r"got (-?[\w.]+)", msg)
    hits = [k for k, v in table.items() if got and str(v) == got.group(1)]
    return (*loc, hits[0]) if len(hits) == 1 else loc


def _valid_keys(loc: tuple[str | int, ...]) -> list[str]:
    ann: Any = TraderbotConfig
    for part in loc:
        ann = _strip_optional(ann)
        origin = typing.get_origin(ann)
        if isinstance(part, int) and origin in (tuple, list):
            ann = typing.get_args(ann)[0]
        elif origin is dict:
            ann = typing.get_args(ann)[1]
        elif isinstance(ann, type) and issubclass(ann, BaseModel) and part in ann.model_fields:
            ann = ann.model_fields[str(part)].annotation
        else:
            return []
    ann = _strip_optional(ann)
    return list(ann.model_fields) if isinstance(ann, type) and issubclass(ann, BaseModel) else []


def _strip_optional(ann: Any) -> Any:
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        return args[0] if len(args) == 1 else ann
    return ann


# ---- paths the config implies ----------------------------------------------------------------------------
def resolve_data_dir(config: TraderbotConfig, config_path: str | Path) -> Path:
    """`service.data_dir`, relative to the config file's folder unless absolute."""
    d = Path(config.service.data_dir).expanduser()
    return d if d.is_absolute() else Path(config_path).resolve().parent / d


def resolve_database_url(config: TraderbotConfig, config_path: str | Path) -> str:
    """`service.database_url`, or the SQLite file `<data_dir>/traderbot.db` when it is empty."""
    if config.service.database_url:
        return config.service.database_url
    return f"sqlite:///{resolve_data_dir(config, config_path) / 'traderbot.db'}"


# ---- the line of a key in TOML text ------------------------------------------------------------------------
Loc = tuple[str | int, ...]

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'[^\']*\'')
_KEY_LINE = re.compile(
    r'^\s*((?:[A-Za-z0-9_\-]+|"[^"]*"|\'[^\']*\')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|\'[^\']*\'))*)\s*='
)
_INLINE_KEY = re.compile(r"[{,]\s*([A-Za-z0-9_\-]+|\"[^\"]*\")\s*=")


def _split_key(text: str) -> list[str]:
    parts = re.findall(r'"[^"]*"|\'[^\']*\'|[^.\s]+', text)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def _blank_strings(line: str) -> str:
    """The line with string contents blanked and the comment removed (so brackets and # inside strings
    do not count)."""
    line = _STRING.sub(lambda m: '""', line)
    return line.split("#", 1)[0]


def key_lines(text: str) -> dict[Loc, int]:
    """Map of every location found (section paths, `("pairs", 1)`, `("pairs", 1, "timeframe")`, inline-table
    keys) to its 1-based line number; the first occurrence wins."""
    found: dict[Loc, int] = {}
    table: Loc = ()
    counts: dict[Loc, int] = {}
    depth = 0  # open brackets of a multi-line array or inline table
    in_multiline: str | None = None
    for n, raw in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if in_multiline in raw:
                in_multiline = None
            continue
        for quote in ('"""', "'''"):
            if raw.count(quote) == 1:
                in_multiline = quote
        line = _blank_strings(raw)
        stripped = line.strip()
        if depth == 0 and stripped.startswith("[["):
            path = tuple(_split_key(stripped.strip("[] ")))
            index = counts.get(path, -1) + 1
            counts[path] = index
            table = (*path, index)
            found.setdefault(table, n)
            continue
        if depth == 0 and stripped.startswith("["):
            table = _table_path(tuple(_split_key(stripped.strip("[] "))), counts)
            found.setdefault(table, n)
            continue
        if depth == 0:
            m = _KEY_LINE.match(line)
            if m:
                loc = (*table, *_split_key(m.group(1)))
                found.setdefault(loc, n)
                for inner in _INLINE_KEY.finditer(line[m.end() :]):
                    found.setdefault((*loc, *_split_key(inner.group(1))), n)
        depth += line.count("[") + line.count("{") - line.count("]") - line.count("}")
        depth = max(depth, 0)
    return found


def _table_path(path: Loc, counts: dict[Loc, int]) -> Loc:
    """`[pairs.params]` after the 2nd `[[pairs]]` belongs to pairs[1]: insert the array index."""
    out: Loc = ()
    for part in path:
        out = (*out, part)
        if out in counts:
            out = (*out, counts[out])
    return out


def line_of(text: str, loc: Loc) -> int | None:
    """The line of the most specific part of `loc` found in the text, or None."""
    found = key_lines(text)
    for end in range(len(loc), 0, -1):
        if loc[:end] in found:
            return found[loc[:end]]
    return None

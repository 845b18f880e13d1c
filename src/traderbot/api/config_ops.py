"""The configuration as the API sees it: which file and which configuration are active, TOML text checked against
the schema without applying it (every field error, one sentence each), and the file replaced atomically.

The active configuration is the running service's (`service.config`) when the API is served by it; beside it
(`traderbot api`) it is the newest applied version the service stored in the database (`config_versions`, its
text as stored: secrets already masked), and the file is the path that version names."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from traderbot.config.diff import diff_configs
from traderbot.config.loader import ConfigError, apply_env, describe, dotted, parse_config
from traderbot.config.manager import write_atomically
from traderbot.config.schema import RESTART_ONLY, TraderbotConfig
from traderbot.errors import UserError
from traderbot.store.config_store import SqlConfigStore

if TYPE_CHECKING:
    from traderbot.api.context import ApiContext

SOURCE = "the TOML text"  # how errors name the text sent
MAX_ERRORS = 20


@dataclass(frozen=True)
class ActiveConfig:
    config: TraderbotConfig | None
    path: Path | None  # the configuration file, when one is known
    source: str  # "service" (the running service's), "database" (its newest applied version) or "none"
    version: int | None  # the newest applied version stored
    env: Mapping[str, str] | None  # the environment overrides the service validates with (None: os.environ)


def active_config(ctx: ApiContext) -> ActiveConfig:
    store = SqlConfigStore(ctx.engine)
    last = store.last_applied()
    number = None if last is None else last.version
    manager = ctx.service.config if ctx.service is not None else None
    if manager is not None:
        return ActiveConfig(manager.current, manager.path, "service", number, manager.env)
    if last is None:
        return ActiveConfig(None, None, "none", None, {})
    try:
        config: TraderbotConfig | None = parse_config(last.text, f"config version {last.version}", {})
    except ConfigError:
        config = None
    return ActiveConfig(config, Path(last.path) if last.path else None, "database", number, {})


@dataclass(frozen=True)
class Checked:
    config: TraderbotConfig | None
    errors: list[str]


def check_toml(text: str, env: Mapping[str, str] | None) -> Checked:
    """Validate TOML text as the service would load it; every problem as one sentence (line and field)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        try:
            parse_config(text, SOURCE, {})  # the loader's sentence for a syntax error (line, column, why)
        except ConfigError as exc:
            return Checked(None, [str(exc)])
        return Checked(None, [f"{SOURCE} is not valid TOML: fix the syntax and send it again"])
    try:
        env_locs = apply_env(data, os.environ if env is None else env, SOURCE)
        return Checked(TraderbotConfig.model_validate(data), [])
    except UserError as exc:  # an environment override, or a section's own check
        return Checked(None, [str(exc)])
    except ValidationError as exc:
        return Checked(None, [_sentence(e, data, text, env_locs) for e in exc.errors()[:MAX_ERRORS]])


def _sentence(err: Any, data: dict[str, Any], text: str, env_locs: dict[tuple[str, ...], str]) -> str:
    """The loader's sentence for one error; a plain one if the loader cannot place it."""
    try:
        return describe(err, data, text, SOURCE, env_locs)
    except Exception:
        return (
            f"{SOURCE}: {dotted(tuple(err.get('loc', ()))) or 'the file'}: {err.get('msg', 'is not valid')}"
        )


def restart_fields(old: TraderbotConfig, new: TraderbotConfig) -> list[str]:
    """The restart-only settings (`service.mode`, `data_dir`, ...) that differ (secrets compared masked)."""
    from traderbot.api.redact import redact_text

    def value(config: TraderbotConfig, dotted: str) -> str:
        section, _, name = dotted.partition(".")
        return redact_text(str(getattr(config.section(section), name)))

    return [f for f in RESTART_ONLY if value(old, f) != value(new, f)]


def changes(old: TraderbotConfig | None, new: TraderbotConfig) -> list[str]:
    return [] if old is None else diff_configs(old, new)


def holds_masked_secret(text: str) -> bool:
    """True when the text carries a masked secret (`"***"`, `:***@`): writing it would destroy the secret."""
    return '"***"' in text or "'***'" in text or ":***@" in text


def replace_file(path: Path, text: str) -> str | None:
    """Write `text` over `path` atomically (the old file kept as `<file>.bak`); returns the old text (None when
    there was no file), for `restore_file`."""
    old = path.read_text(encoding="utf-8") if path.is_file() else None
    write_atomically(path, text, backup=True)
    return old


def restore_file(path: Path, old: str | None) -> None:
    """Put back what `replace_file` replaced."""
    if old is None:
        path.unlink(missing_ok=True)
    else:
        write_atomically(path, old)

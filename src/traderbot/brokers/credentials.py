"""Credentials: from the environment or a secrets file, never logged, one clear line when missing.

The secrets file is `KEY=VALUE` lines (comments with #), at `$TRADERBOT_SECRETS_FILE` or the path given.
The environment wins over the file. Values are wrapped in `Secret`, whose repr/str never shows the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from traderbot.brokers.base import MissingCredential

SECRETS_ENV = "TRADERBOT_SECRETS_FILE"


class Secret:
    """A credential value; printing or logging it shows `***`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def read_secrets_file(path: str | Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        out[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return out


def credential(
    name: str,
    *,
    env: Mapping[str, str] | None = None,
    secrets_file: str | Path | None = None,
    required: bool = True,
) -> Secret | None:
    """The credential `name` from the environment, else the secrets file; MissingCredential if required."""
    env = os.environ if env is None else env
    value = env.get(name)
    if not value:
        path = secrets_file or env.get(SECRETS_ENV)
        if path and Path(path).is_file():
            value = read_secrets_file(path).get(name)
    if value:
        return Secret(value)
    if not required:
        return None
    where = (
        f" or add {name}=... to {secrets_file or env.get(SECRETS_ENV)}"
        if (secrets_file or env.get(SECRETS_ENV))
        else f" or add it to a secrets file named by {SECRETS_ENV}"
    )
    raise MissingCredential(f"{name} is not set: export {name}=...{where}.")

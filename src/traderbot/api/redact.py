"""Secrets never leave the API: values under secret-looking names become `***`, and so do passwords in URLs and
secret-looking query parameters (`?token=...`). Wider than the config module's own masking on purpose: the
API shows configuration to every viewer."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
# a name is secret when it contains one of these (case-insensitive) ...
SECRET_PARTS = ("secret", "password", "passwd", "passphrase", "token", "api_key", "apikey", "credential",
                "private_key", "key_id", "cookie", "signature", "authorization")  # fmt: skip
# ... or when one of its words (split on _ - . and camelCase) is one of these
SECRET_WORDS = frozenset({"key", "keys", "pwd", "pass", "auth", "dsn", "salt"})

_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/@\s\"'?#]*:)([^@\s\"']+)(@)", re.IGNORECASE)
_QUERY_SECRET = re.compile(r"([?&;]([A-Za-z0-9_.\-]+)=)([^&;#\s\"']*)")


def is_secret_name(name: str) -> bool:
    """True for a key whose value must not be shown (`api_key`, `smtp_password`, `bot_token`, `key`, ...).
    A name ending in `_env` holds the name of the environment variable the secret is read from: not secret."""
    low = name.lower()
    if low.endswith("_env"):
        return False
    if any(part in low for part in SECRET_PARTS):
        return True
    words = {w.lower() for piece in re.split(r"[_\-.\s]+", name) for w in _WORD.findall(piece)}
    return bool(words & SECRET_WORDS)


def redact_text(text: str) -> str:
    """A free text (a URL, a message) with URL passwords and secret query parameters masked."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)
    return _QUERY_SECRET.sub(lambda m: m.group(1) + MASK if is_secret_name(m.group(2)) else m.group(0), text)


def redact(value: Any, name: str = "") -> Any:
    """`value` with every secret masked: dicts walked by key name, lists item by item, strings as text. Numbers
    and booleans are settings, never secrets (`failed_auth_limit = 10` is shown)."""
    if (
        name
        and is_secret_name(name)
        and value not in (None, "", {}, [])
        and not isinstance(value, int | float)
    ):
        return MASK
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, name) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_diff_line(line: str) -> str:
    """A config diff line (`section.key: old -> new`) with the values hidden when the key is secret."""
    key, sep, _ = line.partition(": ")
    if sep and any(is_secret_name(part) for part in key.split(".")):
        return f"{key}: {MASK} -> {MASK} (changed)"
    return redact_text(line)

"""Password hashes: scrypt (hashlib) with a random 16-byte salt, stored as
`scrypt$<n>$<r>$<p>$<salt>$<hash>` (base64) so the cost can be raised later without breaking stored hashes;
compared in constant time."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1  # 16 MiB and ~50 ms per hash: slow for a guesser, quick enough for a login
SALT_BYTES, HASH_BYTES = 16, 32
MIN_LENGTH, MAX_LENGTH = 8, 256


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=HASH_BYTES)


def check_password_rules(password: str) -> None:
    """ValueError (one sentence) when the password cannot be used."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"the password is too short: use at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"the password is too long: use at most {MAX_LENGTH} characters")
    if "\x00" in password:
        raise ValueError("the password contains a NUL character: use printable characters")


def hash_password(password: str) -> str:
    check_password_rules(password)
    salt = secrets.token_bytes(SALT_BYTES)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(_scrypt(password, salt, N, R, P))}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; a malformed stored hash never matches."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


@functools.cache
def dummy_hash() -> str:
    """Checked against when the username is unknown, so a wrong username costs the time of a wrong password."""
    return hash_password("no such user, never matches")

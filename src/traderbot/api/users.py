"""Users: people who log in with a password (the dashboard, or a program via POST /api/v1/auth/login) and get a
short-lived token carrying their role. Usernames are unique per trader; users are disabled, never deleted, so
the audit log keeps naming them; a disabled user's tokens stop working at once."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from traderbot.api.keys import CredentialError, WrongCredential, when
from traderbot.api.passwords import dummy_hash, hash_password, verify_password
from traderbot.api.role import Role, parse_role
from traderbot.errors import UserError
from traderbot.store.api_models import ApiUserRecord as U

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
USERNAME_RULE = "use 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit"
WRONG_LOGIN = "wrong username or password: check both (an admin creates users with `traderbot users create`)"


class BadPassword(WrongCredential):
    """A login whose username or password is wrong (a guess: counted by the failed-auth limiter)."""


@dataclass(frozen=True, slots=True)
class User:
    """A stored user as anyone may see it: never the password hash."""

    id: int
    username: str
    role: Role
    created_ns: int
    disabled_ns: int | None
    password_changed_ns: int

    @property
    def disabled(self) -> bool:
        return self.disabled_ns is not None


def _user(r: Row[Any]) -> User:
    return User(r.id, r.username, Role(r.role), r.created, r.disabled_at, r.password_changed)


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise UserError(f"username {username[:64]!r} is not allowed: {USERNAME_RULE}")
    return username


def _password(password: str) -> str:
    try:
        return hash_password(password)
    except ValueError as exc:
        raise UserError(str(exc)) from None


class UserStore:
    """Create, verify, list, disable and re-password the users of one trader."""

    def __init__(self, engine: Engine, trader_id: str = "TB") -> None:
        self.engine, self.trader_id = engine, trader_id

    def create(self, username: str, role: Role | str, password: str) -> User:
        role = role if isinstance(role, Role) else parse_role(role)
        check_username(username)
        if self.find(username) is not None:
            raise UserError(f"user {username!r} already exists: pick another name, or change the password "
                            f"with `traderbot users passwd {username}`")  # fmt: skip
        now = time.time_ns()
        values = dict(trader_id=self.trader_id, username=username, role=role.value, created=now,
                      password_hash=_password(password), password_changed=now)  # fmt: skip
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(U).values(values))
        except IntegrityError:  # created by another process since find()
            raise UserError(f"user {username!r} already exists: pick another name") from None
        user = self.find(username)
        assert user is not None
        return user

    def get(self, user_id: int) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(U).where(U.id == user_id, U.trader_id == self.trader_id)).first()
        return None if row is None else _user(row)

    def find(self, username: str) -> User | None:
        q = select(U).where(U.trader_id == self.trader_id, U.username == username)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return None if row is None else _user(row)

    def list(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(U).where(U.trader_id == self.trader_id).order_by(U.id)).all()
        return [_user(r) for r in rows]

    def verify(self, username: str, password: str) -> User:
        """The user if the password is theirs and they are not disabled; else BadPassword (wrong username or
        password, the same answer and about the same time for both) or CredentialError (disabled)."""
        with self.engine.connect() as conn:
            q = select(U).where(U.trader_id == self.trader_id, U.username == username)
            row = conn.execute(q).first()
        matches = verify_password(password, dummy_hash() if row is None else row.password_hash)
        if row is None or not matches:
            raise BadPassword(WRONG_LOGIN)
        user = _user(row)
        check_enabled(user)
        return user

    def disable(self, username: str) -> User:
        """Disable a user: their logins and every token they hold stop working at once."""
        user = self._known(username)
        if user.disabled:
            raise UserError(f"user {username!r} was already disabled on {when(user.disabled_ns)}")
        with self.engine.begin() as conn:
            conn.execute(update(U).where(U.id == user.id, U.disabled_at.is_(None))
                         .values(disabled_at=time.time_ns()))  # fmt: skip
        return self._known(username)

    def set_password(self, username: str, password: str) -> User:
        """A new password; tokens issued before it stop working."""
        user = self._known(username)
        values = dict(password_hash=_password(password), password_changed=time.time_ns())
        with self.engine.begin() as conn:
            conn.execute(update(U).where(U.id == user.id).values(values))
        return self._known(username)

    def _known(self, username: str) -> User:
        user = self.find(username)
        if user is None:
            raise UserError(f"no user {username!r}: see `traderbot users list`")
        return user


def check_enabled(user: User) -> None:
    if user.disabled:
        raise CredentialError(f"user {user.username!r} was disabled on {when(user.disabled_ns)}: "
                              "ask an admin to create a new user")  # fmt: skip

"""Request bodies: strict (no coercion of "yes" to true or 5 to "5") and closed (unknown fields refused)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from traderbot.api.users import USERNAME

NO_NUL = r"^[^\x00]*$"  # PostgreSQL cannot store NUL in text: refused as input, never a 500 later


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("NUL characters are not accepted")
    return text


Text = Annotated[str, AfterValidator(_no_nul)]


def _reason() -> Any:
    return Field(min_length=1, max_length=500, description="Why (stored in the audit trail).")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ReasonBody(Body):
    reason: Text = _reason()


class AddPair(Body):
    pair: Text = Field(min_length=1, max_length=32, examples=["EURUSD"])
    timeframe: Text = Field("1m", min_length=1, max_length=16)
    strategy: Text = Field("qfh", min_length=1, max_length=64, description="A built-in strategy name.")
    reason: Text = _reason()


class KillSwitch(Body):
    reason: Text = _reason()
    flatten: bool = Field(False, description="Also close every position at market.")


class TokenRequest(Body):
    ttl_s: int | None = Field(
        None, ge=60, le=24 * 3600, description="Lifetime; at most the server's maximum."
    )


class CreateKey(Body):
    role: Literal["viewer", "operator", "admin"]
    name: Text = Field("", max_length=64)


class Login(Body):
    username: Text = Field(min_length=1, max_length=64, examples=["alice"])
    password: Text = Field(min_length=1, max_length=256)


class CreateUser(Body):
    username: str = Field(pattern=USERNAME.pattern, description="Letters, digits, . _ - @ (up to 64).")
    role: Literal["viewer", "operator", "admin"]
    password: Text = Field(min_length=8, max_length=256, description="At least 8 characters.")

"""The base of every risk-configuration section: strict (unknown keys refused), frozen once loaded."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A part of the risk configuration. Validators raise ValueError with one sentence naming the fix; the
    loader (risk/config.py) turns it into a message naming the field, e.g. `risk.limits.max_order_notional`."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

"""Fixtures for the OANDA adapter's contract tests: the wire-protocol fake on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.contract.oanda.support import TOKEN
from tests.fakes.oanda_fake import OandaFake


@pytest.fixture
def fake() -> Iterator[OandaFake]:
    with OandaFake(token=TOKEN, heartbeat=0.2) as server:
        yield server

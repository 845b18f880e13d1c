"""Apply a whole risk configuration to a kernel: the pre-trade chain plus the event-driven parts (news calendar,
protections, market breakers, system breakers), built first and swapped in together, so a configuration that
fails anywhere (say, a news file that does not parse) leaves the running setup exactly as it was."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from traderbot.risk.config import RiskConfig
from traderbot.risk.market_breakers import MarketBreakers
from traderbot.risk.news import NewsBlackout
from traderbot.risk.protections import Protections
from traderbot.risk.system_breakers import SystemBreakers, kill_switch_flatten

if TYPE_CHECKING:
    from traderbot.kernel.kernel import Kernel


@dataclass
class RiskParts:
    """The event-driven risk components in use (None where their section is off)."""

    config: RiskConfig = field(default_factory=RiskConfig)
    news: NewsBlackout | None = None
    protections: Protections | None = None
    market: MarketBreakers | None = None
    system: SystemBreakers | None = None

    def status(self) -> list[str]:
        lines: list[str] = []
        for name, part in (
            ("protections", self.protections),
            ("market", self.market),
            ("system", self.system),
        ):
            if part is not None:
                lines += [f"{name}: {line}" for line in part.status()]
        return lines


def apply_risk_config(kernel: Kernel, config: RiskConfig) -> RiskParts:
    """Build every part for `config`, then swap them in at once; returns the parts now in use."""
    risk = kernel.risk
    news = NewsBlackout.from_config(config.news) if config.news is not None else None
    protections = (
        Protections(config.protections, risk.locks, kernel.portfolio, kernel.cache)
        if config.protections is not None
        else None
    )
    market = MarketBreakers(config.market, risk.locks, kernel.cache) if config.market is not None else None
    system = None
    if config.system is not None:
        system = SystemBreakers(config.system, risk.locks, now_ns=lambda: kernel.cache.now_ns)
        system.bind(risk.locks, kill_switch_flatten(kernel))
    # everything is built: from here on nothing can fail half-way
    old = kernel.risk_parts
    for part in (old.protections, old.market):
        if part is not None:
            part.detach(kernel.bus)
    if old.system is not None:
        old.system.detach(kernel.bus)
    risk.apply(config, news)
    for part in (protections, market):
        if part is not None:
            part.attach(kernel.bus)
    if system is not None:
        system.attach(kernel.bus)
    kernel.risk_parts = RiskParts(config, news, protections, market, system)
    return kernel.risk_parts

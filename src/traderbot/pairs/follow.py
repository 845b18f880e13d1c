"""Running strategies follow their pair's active parameter version: a hot switch, no restart.

A `ParamsActivated` message on the bus (topic "pairs", published by the registry after the version is committed)
switches every running strategy of that pair (and of that strategy, when the message names one) to the new
parameters. A set the strategy refuses leaves it on its current parameters, and the refusal is kept.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from traderbot.core.bus import MessageBus
from traderbot.errors import UserError
from traderbot.pairs.events import TOPIC, ParamsActivated

if TYPE_CHECKING:
    from traderbot.kernel.kernel import Kernel

log = logging.getLogger("traderbot.pairs")


class ParamsFollower:
    def __init__(self, kernel: Kernel, bus: MessageBus | None = None) -> None:
        self.kernel = kernel
        self.switched: list[tuple[str, str, int]] = []  # (pair, strategy id, version)
        self.refused: list[tuple[str, str, int, str]] = []  # (pair, strategy id, version, why)
        (bus or kernel.bus).subscribe(TOPIC, self._on_message)

    def _on_message(self, message: object) -> None:
        if isinstance(message, ParamsActivated):
            self.apply(message)

    def apply(self, message: ParamsActivated) -> None:
        for strategy, _ in self.kernel.strategies:
            if strategy.instrument_id != message.pair:
                continue
            if message.strategy and strategy.name != message.strategy:
                continue
            if strategy.params == {**strategy.params, **message.params}:
                continue  # already running these parameters
            try:
                strategy.switch_params(dict(message.params))
            except UserError as exc:
                log.warning("%s kept its parameters: version %s refused: %s", strategy.strategy_id,
                            message.version, exc)  # fmt: skip
                self.refused.append((message.pair, strategy.strategy_id, message.version, str(exc)))
            else:
                self.switched.append((message.pair, strategy.strategy_id, message.version))

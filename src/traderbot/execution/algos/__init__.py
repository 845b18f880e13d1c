"""Execution algorithms (TWAP, VWAP, Iceberg): a parent order worked through ordinary child orders.

    pid = self.buy(30_000, algo=TWAP(duration="3h", slices=36))
    self.cancel(pid)                       # cancels the parent and every working child

See docs/execution_algorithms.md.
"""

from traderbot.execution.algos.base import AlgoRun, AlgoSpec
from traderbot.execution.algos.engine import AlgoEngine
from traderbot.execution.algos.iceberg import Iceberg
from traderbot.execution.algos.parent import (
    AlgoConfigError,
    AlgoProgress,
    AlgoRefusal,
    AlgoStatus,
    ParentOrder,
)
from traderbot.execution.algos.twap import TWAP
from traderbot.execution.algos.volume_profile import NoVolumeProfile, VolumeProfile
from traderbot.execution.algos.vwap import VWAP

__all__ = [
    "TWAP",
    "VWAP",
    "AlgoConfigError",
    "AlgoEngine",
    "AlgoProgress",
    "AlgoRefusal",
    "AlgoRun",
    "AlgoSpec",
    "AlgoStatus",
    "Iceberg",
    "NoVolumeProfile",
    "ParentOrder",
    "VolumeProfile",
]

"""NinjaTrader 8 through its Automated Trading Interface (ATI) order-instruction files."""

from traderbot.brokers.ninjatrader.broker import NinjaTraderBroker
from traderbot.brokers.ninjatrader.config import FolderMissing, NinjaTraderConfig

__all__ = ["FolderMissing", "NinjaTraderBroker", "NinjaTraderConfig"]

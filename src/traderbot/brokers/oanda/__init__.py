"""OANDA v20 adapter: REST and streams over httpx (the official SDKs are unmaintained).

broker = OandaBroker(OandaConfig.from_env())   # OANDA_API_TOKEN, OANDA_ACCOUNT_ID
await broker.connect()
"""

from traderbot.brokers.oanda.broker import OandaBroker
from traderbot.brokers.oanda.config import OandaConfig
from traderbot.brokers.oanda.mapping import OandaInstrumentSpec, OandaTrade

__all__ = ["OandaBroker", "OandaConfig", "OandaInstrumentSpec", "OandaTrade"]

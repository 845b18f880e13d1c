"""A fill is one execution reported by a venue. It is the immutable `OrderFilled` event itself (client order id,
venue trade id, side, quantity, exact price, commission and its currency, time); the execution engine keeps
every accepted fill, de-duplicated by trade id, in `Cache.fills`."""

from traderbot.core.messages import OrderFilled as Fill

__all__ = ["Fill"]

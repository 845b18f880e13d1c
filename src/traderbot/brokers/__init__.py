"""traderbot.brokers."""

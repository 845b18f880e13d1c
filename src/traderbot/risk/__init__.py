"""traderbot.risk."""

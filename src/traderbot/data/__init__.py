"""traderbot.data."""

"""traderbot.core."""

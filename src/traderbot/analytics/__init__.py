"""traderbot.analytics."""

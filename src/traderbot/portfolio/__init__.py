"""traderbot.portfolio."""

"""traderbot.model."""

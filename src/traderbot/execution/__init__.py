"""traderbot.execution."""

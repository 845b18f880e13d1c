"""traderbot.strategies."""

"""traderbot.backtest."""

"""traderbot: a self-hosted, professional algorithmic trading platform."""

__version__ = "0.1.0"

"""The trading service: the long-running process and its optional companions (Redis mirror, API)."""

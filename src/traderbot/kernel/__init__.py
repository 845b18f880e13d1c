"""The kernel: bus, clock, cache, data/risk/execution engines, portfolio and strategies wired together."""

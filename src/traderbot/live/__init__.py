"""Paper and live trading against a broker: the kernel with a real clock, a broker bridge and a database."""

"""The built-in simulated venue."""

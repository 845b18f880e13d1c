"""Monitoring: Prometheus metrics, readiness checks and the system health score (docs/monitoring.md)."""

"""The control-plane API (FastAPI): /api/v1 routes, API keys and tokens, roles, rate limits, the audit log,
and the command channel through which the API asks the running service to act (it never touches the kernel)."""

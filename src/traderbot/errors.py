"""Errors a user can cause. Each carries one clear sentence naming the problem and the fix."""


class UserError(Exception):
    """Bad input from a user (file, flag, name, range). The CLI prints the message and exits non-zero."""

    exit_code: int = 2

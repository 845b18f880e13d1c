"""De-duplication (one alert per key per cooldown, until the key resolves) and the per-notifier rate limit
(at most N alerts per rolling minute; the excess is counted and summarised in one later message)."""

from __future__ import annotations

from collections import Counter, deque

from traderbot.alerts.model import Alert, Severity

RATE_WINDOW_S = 60.0


class Dedupe:
    """`admit` is True for a key's first alert and again once `cooldown_s` has passed since the last one sent;
    `resolve` forgets the key, so the next alert for it is sent at once."""

    def __init__(self, cooldown_s: float) -> None:
        self.cooldown_s = cooldown_s
        self._sent: dict[str, float] = {}
        self.suppressed = 0

    def admit(self, key: str, now: float) -> bool:
        last = self._sent.get(key)
        if last is not None and now - last < self.cooldown_s:
            self.suppressed += 1
            return False
        if len(self._sent) > 10_000:  # keys of one-off alerts (e.g. each failed job): drop the expired ones
            self._sent = {k: t for k, t in self._sent.items() if now - t < self.cooldown_s}
        self._sent[key] = now
        return True

    def resolve(self, key: str) -> bool:
        """Forget `key`; True when it was being held back."""
        return self._sent.pop(key, None) is not None


class RateLimit:
    """At most `per_minute` alerts in any 60 s; the alerts over the limit are counted by rule."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._times: deque[float] = deque()
        self.over: Counter[str] = Counter()  # rule -> alerts not sent since the last summary
        self.total_over = 0

    def allow(self, now: float) -> bool:
        while self._times and now - self._times[0] >= RATE_WINDOW_S:
            self._times.popleft()
        if len(self._times) >= self.per_minute:
            return False
        self._times.append(now)
        return True

    def count(self, alert: Alert) -> None:
        self.over[alert.rule] += 1
        self.total_over += 1

    def summary(self, now: float) -> Alert | None:
        """The summary of the alerts held back, once the limit lets one message through; None otherwise."""
        if not self.over or not self.allow(now):
            return None
        n = sum(self.over.values())
        by_rule = ", ".join(f"{rule} x{count}" for rule, count in sorted(self.over.items()))
        self.over.clear()
        return Alert("rate_limit", Severity.WARNING, "rate_limit",
                     f"{n} alert(s) not sent: over the limit of {self.per_minute} per minute",
                     f"held back by the rate limit: {by_rule}")  # fmt: skip

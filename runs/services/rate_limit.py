"""Rate limit on run creation, per user, over REST and the websocket alike.

The rate is settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["run_create"]
(env RUNS_CREATE_RATE, e.g. "60/min"; "none" turns it off). Counters live in
Django's cache: Redis in production, so every server process counts the same.
"""

from types import SimpleNamespace

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class RunCreationThrottle(SimpleRateThrottle):
    scope = "run_create"

    def get_rate(self):
        # Read at each use (not at import), so that settings overrides apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


def run_creation_wait(user) -> float | None:
    """Count one run creation by `user`: None if allowed, else the seconds to
    wait before the next one is."""
    throttle = RunCreationThrottle()
    if throttle.allow_request(SimpleNamespace(user=user), None):
        return None
    return throttle.wait() or 1.0

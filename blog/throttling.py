"""The failed-login throttle: security policy for /login/, in one place.

Relies on (check on each DRF upgrade; tests/test_upgrade_canary.py fails if one changes):
- `SimpleRateThrottle.allow_request()`'s state, which `allow_request` below mirrors
  without recording the request: `history`, `now`, `timer()`, `duration`,
  `num_requests`, `cache`, `cache_format`.
"""
import hashlib

from rest_framework.throttling import SimpleRateThrottle


class FailedLoginThrottle(SimpleRateThrottle):
    """Refuse logins for a username after too many failures in the window (rate "failed_login").

    Unlike DRF's stock throttles it counts only what `record_failure()` records, so a
    load test that logs hundreds of users in is never slowed down. The history lives in
    the default cache, which every server process shares (see CACHES).
    """

    scope = "failed_login"

    def get_cache_key(self, request, view):
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username:
            return None
        # surrogatepass: JSON may carry a lone surrogate, which plain UTF-8 cannot encode.
        ident = hashlib.sha256(username.casefold().encode(errors="surrogatepass")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        self.key = self.get_cache_key(request, view) if self.rate else None
        if self.key is None:
            return True
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        return len(self.history) < self.num_requests

    def record_failure(self):
        if self.key is None:
            return
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)

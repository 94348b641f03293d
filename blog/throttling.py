"""The failed-login throttles: security policy for /login/, in one place.

Relies on (check on each DRF upgrade; tests/test_upgrade_canary.py fails if one changes):
- `SimpleRateThrottle.__init__` reading the rate of `scope` into `num_requests` and
  `duration` (through `parse_rate()`), and its `cache`, `timer` and `cache_format`.
- `ObtainAuthToken.get_serializer()`, and `Serializer.to_internal_value()` giving the
  fields' values as `is_valid()` hands them to `validate()`, where `AuthTokenSerializer`
  calls `authenticate()`.

Only failures count, as `LoginView` records them, so a load test that logs hundreds of
users in from one address is never slowed down. They live in the default cache, which
every server process shares (see CACHES).

Each failure claims a key of its own with `cache.add()`, atomic on the shared caches
(an INSERT on the primary key for DatabaseCache, SET NX for Redis), so failures
recorded at the same moment are all counted; a read-modify-write of one list, or
`cache.incr()` (a get then a set on DatabaseCache), loses some. The keys are the slots
0 to num_requests - 1 of the current fixed window: counting needs no more, as the limit
is reached when they are all taken. The check reads this window's slots and the last
one's and counts the failures (the slots hold their times) of the last `duration`, a
sliding window like DRF's own. One key per failure keeps rates to small counts (tens).
"""
import hashlib

from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class FailureThrottle(SimpleRateThrottle):
    """Refuse a request once `num_requests` failures were recorded for its key within `duration`."""

    def allow_request(self, request, view):
        self.key = self.get_cache_key(request, view) if self.rate else None
        if self.key is None:
            return True
        self.now = self.timer()
        window = self.window_at(self.now)
        found = self.cache.get_many(
            [self.slot_key(w, slot) for w in (window - 1, window) for slot in range(self.num_requests)]
        )
        self.taken = set(found)
        self.history = sorted((at for at in found.values() if at > self.now - self.duration), reverse=True)
        return len(self.history) < self.num_requests

    def wait(self):
        # Allowed again once fewer than num_requests failures remain in the window, that
        # is when the num_requests-th newest leaves it. (DRF's wait() spreads the time
        # over the requests left, and gives none at all past the limit.)
        return max(0, self.history[self.num_requests - 1] + self.duration - self.now)

    def record_failure(self):
        if self.key is None:
            return
        # The time of the failure, not of the check: the password check between them is slow.
        now = self.timer()
        window = self.window_at(now)
        for slot in range(self.num_requests):
            key = self.slot_key(window, slot)
            # Twice the window: the failure counts until `duration` after it, in the next window.
            if key not in self.taken and self.cache.add(key, now, 2 * self.duration):
                return
        # Every slot taken: the limit is already reached for the rest of this window.

    def window_at(self, moment):
        return int(moment // self.duration)

    def slot_key(self, window, slot):
        return f"{self.key}_{window}_{slot}"

    def cache_key_for(self, ident):
        # Hashed: an ident is text from the client, and some caches (memcached) refuse
        # keys with spaces or control characters.
        digest = hashlib.sha256(ident.encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}


class FailedLoginThrottle(FailureThrottle):
    """Refuse logins for a username after too many failures in the window (rate "failed_login")."""

    scope = "failed_login"

    def get_cache_key(self, request, view):
        # The username as the login view's serializer hands it to authenticate(): DRF's
        # CharField trims whitespace and turns a JSON number into text, so counting the
        # raw value would give "  alice " or 12345 attempts of their own.
        try:
            username = view.get_serializer().to_internal_value(request.data)["username"]
        except ValidationError:
            return None  # refused before any password is checked, so not a guess at one
        # Django's ModelBackend matches usernames exactly; casefolding counts the case
        # variants together (stricter), as a case-insensitive database collation would match them.
        return self.cache_key_for(username.casefold())


class FailedLoginAddressThrottle(FailureThrottle):
    """Refuse logins from an address after too many failures for any usernames (rate "failed_login_address")."""

    scope = "failed_login_address"

    def get_cache_key(self, request, view):
        ident = self.get_ident(request)
        # No address (a server on a Unix socket): no key, rather than one shared by every client.
        return self.cache_key_for(ident) if ident else None

    def get_ident(self, request):
        # Without NUM_PROXIES DRF's get_ident() trusts the whole X-Forwarded-For header, so a
        # client could name a new address on every request. Behind a proxy, set NUM_PROXIES
        # (then DRF picks the address the proxy saw), or every client shares the proxy's.
        if api_settings.NUM_PROXIES is None:
            return request.META.get("REMOTE_ADDR")
        return super().get_ident(request)

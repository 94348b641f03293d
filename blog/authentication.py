"""DRF's token and session authentication, without the cost of credentials they would not find.

Each class answers as DRF's does; a request that cannot carry its credentials is left
unauthenticated by it before DRF does the work of looking (tests/test_authentication.py
holds the session class's answers to DRF's, for each way a user can reach it). The
session class saves 5% of an anonymous post detail's instructions (callgrind,
docs/performance.md).

Relies on (tests/test_upgrade_canary.py fails if one changes):
- `AuthenticationMiddleware.process_request()` setting `request.user` to a
  `SimpleLazyObject` of a lambda it defines, whose user is `auth.get_user(request)`,
  which reads the user's id from `request.session` and is anonymous without one.
- `SessionBase` reading a session without a key as empty (`_get_session()`, through
  `__getitem__()`), keeping what it read or was given in `_session_cache`, and
  `SessionMiddleware` adding `Vary: Cookie` when `session.accessed` is true.
"""
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.backends.base import SessionBase
from django.utils.functional import SimpleLazyObject, empty
from rest_framework import authentication


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's TokenAuthentication; a request without an Authorization header is left
    unauthenticated by this class before DRF builds `request.headers` to look for one
    (a dict of every header, built on first use, that an anonymous read never needs
    otherwise). With the header, DRF's own authenticate() decides, unchanged."""

    def authenticate(self, request):
        if "HTTP_AUTHORIZATION" not in request._request.META:
            return None
        return super().authenticate(request)


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's SessionAuthentication; a request whose session cannot hold a user is left
    unauthenticated by this class without loading the user (and the user model, and an
    AnonymousUser) to find that out. Any other request, DRF's own authenticate() decides."""

    def authenticate(self, request):
        django_request = request._request
        if has_no_session_user(django_request):
            # As reading the session would have: SessionMiddleware then adds Vary: Cookie,
            # since with a session cookie the answer could have been another.
            django_request.session.accessed = True
            return None
        return super().authenticate(request)


# The function AuthenticationMiddleware makes request.user of: `lambda: get_user(request)`.
MIDDLEWARE_USER_CODE = next(
    (constant for constant in AuthenticationMiddleware.process_request.__code__.co_consts
     if getattr(constant, "co_name", None) == "<lambda>"),
    None,
)


def has_no_session_user(request):
    """Whether Django's `request.user` is certain to be anonymous, known without evaluating it.

    It is when it is still AuthenticationMiddleware's unevaluated lazy user (not one that
    login() or another middleware set) and the session it would read has no key (no
    session cookie) and nothing read or written into it yet: such a session is empty.
    """
    user = vars(request).get("user")
    if type(user) is not SimpleLazyObject or MIDDLEWARE_USER_CODE is None:
        return False
    # Its own attributes, read past LazyObject.__getattribute__.
    lazy = object.__getattribute__(user, "__dict__")
    made_by = getattr(lazy.get("_setupfunc"), "__code__", None)
    if lazy.get("_wrapped") is not empty or made_by is not MIDDLEWARE_USER_CODE:
        return False
    session = vars(request).get("session")
    return (
        type(session) in EMPTY_WITHOUT_A_KEY or reads_empty_without_a_key(type(session))
    ) and session.session_key is None and "_session_cache" not in vars(session)


# Session classes that read a session without a key as empty: SessionBase's _get_session()
# and __getitem__(), which auth.get_user() reads the user's id with.
EMPTY_WITHOUT_A_KEY = set()


def reads_empty_without_a_key(session_class):
    if issubclass(session_class, SessionBase) and session_class._get_session is SessionBase._get_session \
            and session_class.__getitem__ is SessionBase.__getitem__:
        EMPTY_WITHOUT_A_KEY.add(session_class)
        return True
    return False

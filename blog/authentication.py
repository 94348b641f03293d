"""DRF's token authentication, without the cost of a header it would not find."""
from rest_framework import authentication


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's TokenAuthentication; a request without an Authorization header is left
    unauthenticated by this class before DRF builds `request.headers` to look for one
    (a dict of every header, built on first use, that an anonymous read never needs
    otherwise). With the header, DRF's own authenticate() decides, unchanged."""

    def authenticate(self, request):
        if "HTTP_AUTHORIZATION" not in request.META:
            return None
        return super().authenticate(request)

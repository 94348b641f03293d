"""What a response's bytes are: DRF's JSON, written by orjson, and the choice of renderer.

Both give exactly DRF's answers, faster (tests/test_renderers.py; figures in
docs/performance.md).

Relies on (tests/test_upgrade_canary.py): Django's WSGIRequest and ASGIRequest building
`GET` from META["QUERY_STRING"] as a cached_property (has_no_query).
"""
from drf_orjson_renderer.renderers import ORJSONRenderer
from rest_framework.negotiation import DefaultContentNegotiation


class BlogJSONRenderer(ORJSONRenderer):
    """orjson's rendering, byte for byte DRF's JSONRenderer output for the API's data.

    REST_FRAMEWORK["ORJSON_RENDERER_OPTIONS"] makes it write datetimes as DRF's ISO 8601
    format does, UTC as Z. Like DRF's renderer it escapes U+2028 and U+2029, so that the
    JSON is also valid JavaScript.
    """

    # orjson writes a UTC offset to the minute: a historical zone's offset in seconds
    # (before about 1900) would lose them, where DRF writes +00:19:32.

    def render(self, data, media_type=None, renderer_context=None):
        rendered = super().render(data, media_type, renderer_context)
        if b"\xe2\x80\xa8" in rendered or b"\xe2\x80\xa9" in rendered:
            rendered = rendered.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return rendered


# Accept headers for which DRF always picks the first renderer, with its own media type.
FIRST_RENDERER_ACCEPTS = {"*/*", "application/json"}


class BlogContentNegotiation(DefaultContentNegotiation):
    """DRF's content negotiation, answered at once for a client that accepts JSON or anything."""

    def select_renderer(self, request, renderers, format_suffix=None):
        # curl, requests and wrk send */* or nothing, Locust's rest() application/json;
        # DRF answers each with the first renderer (JSON), after building
        # request.headers and parsing media types.
        format = format_suffix or (None if has_no_query(request) else
                                   request.query_params.get(self.settings.URL_FORMAT_OVERRIDE))
        accept = request._request.META.get("HTTP_ACCEPT", "*/*")
        if not format and accept in FIRST_RENDERER_ACCEPTS and renderers[0].media_type == "application/json":
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


def has_no_query(request):
    """Whether a DRF request has no query parameters, known without building request.GET.

    Django's request builds GET from META["QUERY_STRING"] on first use and keeps it (a
    cached_property): an empty query string means an empty GET, unless someone has set
    GET already, in which case it is read. A detail request has no query, and DRF reads
    GET for the ?format= override twice (negotiation and links): building it for that
    cost a post detail 2.5% of its instructions (callgrind, docs/performance.md).
    """
    django_request = request._request
    return not django_request.META.get("QUERY_STRING") and "GET" not in vars(django_request)

"""blog.renderers: DRF's JSON and content negotiation, byte for byte, faster."""
import zoneinfo
from datetime import datetime
from datetime import timezone as dt_timezone

import pytest
from django.http import Http404
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail, NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory

from blog.renderers import BlogContentNegotiation, BlogJSONRenderer


def test_the_json_renderer_writes_what_drfs_writes(api_client, make_post):
    make_post(title="Ünïcode \u2028 and \u2029 and \"quotes\" </script>", body="Line\nbreak \U0001f600")
    page = api_client.get("/blog/posts").json()
    errors = {
        "title": [ErrorDetail("This field is required.", code="required")],
        "detail": gettext_lazy("Not found."),
    }
    times = {
        "utc": datetime(2026, 11, 24, 8, 30, tzinfo=dt_timezone.utc),
        "microseconds": datetime(2026, 11, 24, 8, 30, 1, 5, tzinfo=zoneinfo.ZoneInfo("UTC")),
        "zero offset, other zone": datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=zoneinfo.ZoneInfo("Europe/London")),
        "offset": datetime(2026, 7, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Kolkata")),
    }
    for data in (page, errors, {"count": 0, "next": None, "results": []}, times):
        assert BlogJSONRenderer().render(data, "application/json") == DRFJSONRenderer().render(
            data, "application/json"
        )
    assert api_client.get("/blog/posts")["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "accept",
    [None, "*/*", "", "application/json", "application/json; indent=4", "text/html",
     "text/html,application/xhtml+xml,*/*;q=0.8", "*/*; q=0.5", "*/*;charset=utf-8", "application/xml"],
)
@pytest.mark.parametrize(("query", "suffix"), [("", None), ("?format=json", None), ("?format=api", None),
                                               ("?format=", None), ("?format=xml", None), ("", "json")])
@pytest.mark.parametrize("order", [1, -1], ids=["json first", "browsable first"])
def test_content_negotiation_answers_what_drfs_answers(accept, query, suffix, order):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/blog/posts{query}", **headers))
    renderers = [renderer() for renderer in api_settings.DEFAULT_RENDERER_CLASSES][::order]
    answers = []
    for negotiation in (DefaultContentNegotiation(), BlogContentNegotiation()):
        try:
            renderer, media_type = negotiation.select_renderer(request, renderers, suffix)
            answers.append((renderer, media_type))
        except (NotAcceptable, Http404) as error:
            answers.append(type(error))

    assert answers[0] == answers[1]

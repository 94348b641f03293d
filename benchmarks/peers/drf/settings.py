"""The project's settings with DRF as its tutorial configures it: limit/offset pages, the rest DRF's defaults."""
from blogproject.settings import *  # noqa: F401,F403

ROOT_URLCONF = "benchmarks.peers.drf.urls"

# DRF's defaults otherwise: JSONRenderer (and the browsable API), session and basic
# authentication, AllowAny, ISO 8601 datetimes.
REST_FRAMEWORK = {
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 20,
}

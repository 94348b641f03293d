"""The project's settings with django-ninja's page size and limit set to the API's (20, at most 100)."""
from blogproject.settings import *  # noqa: F401,F403

ROOT_URLCONF = "benchmarks.peers.ninja.urls"

NINJA_PAGINATION_PER_PAGE = 20
NINJA_PAGINATION_MAX_LIMIT = 100

"""The project's settings with django-modern-rest's, as its docs advise for production."""
from dmr.settings import Settings

from blogproject.settings import *  # noqa: F401,F403

ROOT_URLCONF = "benchmarks.peers.modern_rest.urls"

# "Keep it on in development, but disable it in production" (the docs' Response validation).
DMR_SETTINGS = {Settings.validate_responses: DEBUG}  # noqa: F405

"""The project's settings with django-bolt installed and its API named."""
from blogproject.settings import *  # noqa: F401,F403

INSTALLED_APPS = [*INSTALLED_APPS, "django_bolt"]  # noqa: F405
BOLT_API = ["benchmarks.peers.bolt.api:api"]

"""The project's settings plus the floor view's URL; used only by the benchmark."""
from blogproject.settings import *  # noqa: F401,F403

ROOT_URLCONF = "benchmarks.urls"

"""The project's settings with the tutorial's stages beside the API's URLs; used only by `make story`."""
from blogproject.settings import *  # noqa: F401,F403

ROOT_URLCONF = "benchmarks.story.urls"

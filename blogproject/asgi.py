"""ASGI entry point, for servers such as uvicorn or daphne."""
import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blogproject.settings")

application = get_asgi_application()

# Out of the garbage collector's way, as in wsgi.py (which says why).
gc.freeze()

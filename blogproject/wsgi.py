"""WSGI entry point, as served by `gunicorn blogproject.wsgi`."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blogproject.settings")

application = get_wsgi_application()

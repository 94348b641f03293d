"""WSGI entry point, as served by granian (`python -m blogproject.serve`) or `gunicorn blogproject.wsgi`."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blogproject.settings")

application = get_wsgi_application()

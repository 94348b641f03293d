"""WSGI entry point, as served by granian (`python -m blogproject.serve`) or `gunicorn blogproject.wsgi`."""
import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blogproject.settings")

application = get_wsgi_application()

# What is loaded by now (Django, DRF, the settings, the apps' modules) lives as long as
# the worker: frozen, the garbage collector's full collections stop walking it again
# and again, as CPython's gc docs advise for long-lived objects. Nothing is freed that
# would have been: it is a collection's work that goes, not its findings.
gc.freeze()

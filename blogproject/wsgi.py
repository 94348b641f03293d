"""WSGI entry point, as served by granian (`python -m blogproject.serve`) or `gunicorn blogproject.wsgi`."""
import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blogproject.settings")

application = get_wsgi_application()

# What is loaded by now (Django, DRF, the settings, the apps' modules) lives as long as
# the worker. gc.freeze() moves it to the collector's permanent generation, which "all
# the future collections" ignore (CPython's gc docs): full collections, every few
# hundred requests, stop walking it. The collector stays on for what requests make; the
# price is that a frozen object which later becomes cyclic garbage is never collected.
gc.freeze()

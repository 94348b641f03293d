"""The API behind a fixed service time, for the capacity search's known answer (tests/test_capacity.py).

Served by gunicorn's sync workers, one request at a time each: W workers can answer at
most W / (SLEEPY_SECONDS + the API's own time) requests a second, however many users wait.
"""
import os
import time

from blogproject.wsgi import application as api

SECONDS = float(os.environ.get("SLEEPY_SECONDS", "0.05"))


def application(environ, start_response):
    time.sleep(SECONDS)
    return api(environ, start_response)

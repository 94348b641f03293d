from django.urls import path

from blogproject.urls import handler400, handler404, handler500  # noqa: F401

from .api import api

urlpatterns = [path("", api.urls)]

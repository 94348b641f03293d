"""The project's URLs plus the framework's floor: a minimal view returning constant JSON."""
from django.http import JsonResponse
from django.urls import path

from blogproject.urls import handler400, handler404, handler500  # noqa: F401
from blogproject.urls import urlpatterns as project_urlpatterns


def floor(request):
    return JsonResponse({"status": "ok"})


# Last, so that it pays the same URL resolution as the endpoints it is compared with.
urlpatterns = [*project_urlpatterns, path("bench/floor", floor, name="bench-floor")]

"""The project's URLconf mounted under /api/: the same views, every link one level down."""
from django.urls import include, path

urlpatterns = [path("api/", include("blogproject.urls"))]

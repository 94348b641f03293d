from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from blog.views import HealthView, LoginView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", LoginView.as_view(), name="login"),
    path("blog/", include("blog.urls")),
    path("health", HealthView.as_view(), name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]


# JSON, not HTML, for errors raised outside DRF's views, in DRF's shape: {"detail": "..."}.
def bad_request(request, exception):
    return JsonResponse({"detail": "Bad Request (400)"}, status=400)


def not_found(request, exception):
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request):
    return JsonResponse({"detail": "Server Error (500)"}, status=500)


handler400 = bad_request
handler404 = not_found
handler500 = server_error

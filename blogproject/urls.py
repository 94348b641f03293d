from django.contrib import admin
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.urls import include, is_valid_path, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from blog.views import HealthView, LandingView, LoginView, LoginWithoutSlashView

urlpatterns = [
    path("", LandingView.as_view(), name="landing"),
    path("admin/", admin.site.urls),
    path("login/", LoginView.as_view(), name="login"),
    path("login", LoginWithoutSlashView.as_view(), name="login-without-slash"),
    path("blog/", include("blog.urls")),
    path("health", HealthView.as_view(), name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]


# JSON, not HTML, for errors raised outside DRF's views, in DRF's shape: {"detail": "..."}.
def bad_request(request, exception):
    return JsonResponse({"detail": "Bad Request (400)"}, status=400)


def not_found(request, exception):
    # APPEND_SLASH the other way round: the blog's URLs end without a slash. A GET or HEAD
    # is redirected there, as CommonMiddleware redirects to a slash; any other method is
    # told the URL, since a redirect would lose its body.
    if request.path_info.endswith("/") and is_valid_path(request.path_info[:-1], getattr(request, "urlconf", None)):
        without_slash = request.path[:-1]
        if request.method in ("GET", "HEAD"):
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(f"{without_slash}?{query}" if query else without_slash)
        return JsonResponse({"detail": f"Not found. Did you mean {without_slash} (no slash at the end)?"}, status=404)
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request):
    return JsonResponse({"detail": "Server Error (500)"}, status=500)


handler400 = bad_request
handler404 = not_found
handler500 = server_error

"""A URLconf that extends the blog the DRF way: format suffixes and URL path versioning."""
from django.urls import include, path, re_path
from rest_framework.urlpatterns import format_suffix_patterns

from blog import urls as blog_urls

urlpatterns = [
    path("blog/", include((format_suffix_patterns(blog_urls.urlpatterns), "blog"))),
    re_path(r"^(?P<version>v[12])/blog/", include((blog_urls.urlpatterns, "blog"), namespace="versioned")),
]

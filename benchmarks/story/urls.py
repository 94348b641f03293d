"""The project's URLs plus the tutorial's stages 1-3 at /story/<stage>/posts and /story/<stage>/post/<pk>."""
from django.urls import path

from blogproject.urls import handler400, handler404, handler500  # noqa: F401
from blogproject.urls import urlpatterns as project_urlpatterns

from .views import STAGES

urlpatterns = [*project_urlpatterns]
for stage, (post_list, post_detail) in STAGES.items():
    urlpatterns += [
        path(f"story/{stage}/posts", post_list, name=f"story-{stage}-post-list"),
        path(f"story/{stage}/post/<int:pk>", post_detail, name=f"story-{stage}-post-detail"),
    ]

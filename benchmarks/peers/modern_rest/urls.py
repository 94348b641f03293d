from django.urls import include
from dmr.routing import Router, path

from blogproject.urls import handler400, handler404, handler500  # noqa: F401

from . import views

# django-modern-rest's path(): its prefix-matching drop-in for Django's, which its docs recommend.
router = Router("blog/", [
    path("posts", views.PostListController.as_view(), name="post-list"),
    path("post/<int:pk>", views.PostDetailController.as_view(), name="post-detail"),
    path("comments", views.CommentListController.as_view(), name="comment-list"),
    path("comment/<int:pk>", views.CommentDetailController.as_view(), name="comment-detail"),
])

urlpatterns = [
    path(router.prefix, include((router.urls, "blog"))),
    path("bench/floor", views.FloorController.as_view(), name="bench-floor"),
]

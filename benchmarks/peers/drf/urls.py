from django.urls import include, path

from blogproject.urls import handler400, handler404, handler500  # noqa: F401

from . import views

# The serializers' view names are the project's: blog:post-detail, blog:comment-detail.
blog_patterns = ([
    path("posts", views.PostList.as_view(), name="post-list"),
    path("post/<int:pk>", views.PostDetail.as_view(), name="post-detail"),
    path("comments", views.CommentList.as_view(), name="comment-list"),
    path("comment/<int:pk>", views.CommentDetail.as_view(), name="comment-detail"),
], "blog")

urlpatterns = [
    path("blog/", include(blog_patterns)),
    path("bench/floor", views.floor, name="bench-floor"),
]

from django.urls import path, register_converter
from django.urls.converters import IntConverter

from . import views


class IdConverter(IntConverter):
    """A row id: digits that fit the 64-bit id column, so an overlong one is a 404, not a 500."""

    max_value = 2**63 - 1

    def to_python(self, value):
        number = int(value)
        if number > self.max_value:
            raise ValueError(f"{value} is larger than any id")
        return number


register_converter(IdConverter, "id")

app_name = "blog"

urlpatterns = [
    path("posts", views.PostList.as_view(), name="post-list"),
    path("post/<id:pk>", views.PostDetail.as_view(), name="post-detail"),
    path("create", views.PostCreate.as_view(), name="post-create"),
    path("comments", views.CommentList.as_view(), name="comment-list"),
    path("comment/<id:pk>", views.CommentDetail.as_view(), name="comment-detail"),
    path("post/<id:pk>/comments", views.PostCommentList.as_view(), name="post-comment-list"),
    path("post/<id:pk>/comment/create", views.CommentCreate.as_view(), name="comment-create"),
]

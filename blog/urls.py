from django.urls import path

from . import views

app_name = "blog"

urlpatterns = [
    path("posts", views.PostList.as_view(), name="post-list"),
    path("post/<int:pk>", views.PostDetail.as_view(), name="post-detail"),
    path("create", views.PostCreate.as_view(), name="post-create"),
    path("comments", views.CommentList.as_view(), name="comment-list"),
    path("comment/<int:pk>", views.CommentDetail.as_view(), name="comment-detail"),
    path("post/<int:pk>/comments", views.PostCommentList.as_view(), name="post-comment-list"),
    path("post/<int:pk>/comment/create", views.CommentCreate.as_view(), name="comment-create"),
]

"""What goes over the wire: each resource's JSON declared once, here.

The read views write these serializers' JSON straight from rows when they can
(blog.reads); the fields declared here decide what that JSON is, and the schema.
"""
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import serializers

from .models import Comment, Post


class AuthorSerializer(serializers.ModelSerializer):
    """The author of a post or comment."""

    class Meta:
        model = get_user_model()
        fields = ["id", "username"]
        read_only_fields = fields


class PostSummarySerializer(serializers.ModelSerializer):
    """The post a comment is on."""

    class Meta:
        model = Post
        fields = ["id", "title"]
        read_only_fields = fields


class PostSerializer(serializers.ModelSerializer):
    """A post, with its detail URL and its author."""

    url = serializers.HyperlinkedIdentityField(view_name="blog:post-detail")
    user = AuthorSerializer(read_only=True)

    class Meta:
        model = Post
        fields = ["id", "url", "title", "body", "created_at", "user"]
        read_only_fields = ["id", "created_at"]


class PostCreateSerializer(serializers.ModelSerializer):
    body = serializers.CharField(max_length=settings.BLOG_POST_BODY_MAX_LENGTH)

    class Meta:
        model = Post
        fields = ["id", "title", "body", "user"]
        read_only_fields = ["id", "user"]


class CommentSerializer(serializers.ModelSerializer):
    """A comment, with its detail URL, its author and the post it is on."""

    url = serializers.HyperlinkedIdentityField(view_name="blog:comment-detail")
    user = AuthorSerializer(read_only=True)
    post = PostSummarySerializer(read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "url", "body", "created_at", "user", "post"]
        read_only_fields = ["id", "created_at"]


class CommentCreateSerializer(serializers.ModelSerializer):
    body = serializers.CharField(max_length=settings.BLOG_COMMENT_BODY_MAX_LENGTH)

    class Meta:
        model = Comment
        fields = ["id", "post", "body", "user"]
        read_only_fields = ["id", "post", "user"]

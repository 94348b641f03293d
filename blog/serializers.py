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


class WrittenSerializer(serializers.ModelSerializer):
    """What a post and a comment show alike: the author, nested."""

    user = AuthorSerializer(read_only=True)

    class Meta:
        read_only_fields = ["id", "created_at"]


class PostSerializer(WrittenSerializer):
    """A post, with its detail URL and its author."""

    url = serializers.HyperlinkedIdentityField(view_name="blog:post-detail")

    class Meta(WrittenSerializer.Meta):
        model = Post
        fields = ["id", "url", "title", "body", "created_at", "user"]


class CommentSerializer(WrittenSerializer):
    """A comment, with its detail URL, its author and the post it is on."""

    url = serializers.HyperlinkedIdentityField(view_name="blog:comment-detail")
    post = PostSummarySerializer(read_only=True)

    class Meta(WrittenSerializer.Meta):
        model = Comment
        fields = ["id", "url", "body", "created_at", "user", "post"]


class CreateSerializer(serializers.ModelSerializer):
    """What a client sends to create a post or a comment: the id and the author are the API's."""

    class Meta:
        read_only_fields = ["id", "user"]


class PostCreateSerializer(CreateSerializer):
    """A new post: its title and body; its author is the token's user."""

    class Meta(CreateSerializer.Meta):
        model = Post
        fields = ["id", "title", "body", "user"]
        extra_kwargs = {"body": {"max_length": settings.BLOG_POST_BODY_MAX_LENGTH}}


class CommentCreateSerializer(CreateSerializer):
    """A new comment on the post in the URL: its body; its author is the token's user."""

    class Meta(CreateSerializer.Meta):
        model = Comment
        fields = ["id", "post", "body", "user"]
        read_only_fields = [*CreateSerializer.Meta.read_only_fields, "post"]
        extra_kwargs = {"body": {"max_length": settings.BLOG_COMMENT_BODY_MAX_LENGTH}}

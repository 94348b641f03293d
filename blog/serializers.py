from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import serializers

from .models import Comment, Post


class AuthorSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username"]
        read_only_fields = fields


class PostSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Post
        fields = ["id", "title"]
        read_only_fields = fields


class PostSerializer(serializers.ModelSerializer):
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

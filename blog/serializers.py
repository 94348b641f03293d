from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import serializers
from rest_framework.reverse import reverse

from .models import Comment, Post


# Reversed in place of a pk, then cut out, leaving the URL around it as a template.
PLACEHOLDER_PK = 9_876_543_210
# Formats created_at exactly as the ModelSerializer's own DateTimeField does.
DATETIME = serializers.DateTimeField(read_only=True)


def detail_url_template(request, view_name):
    """The absolute URL of view_name as (head, tail) around the pk, reversed once per request.

    reverse() and build_absolute_uri() once per row were more than half of a row's cost.
    """
    templates = request.__dict__.setdefault("_detail_url_templates", {})
    if view_name not in templates:
        url = reverse(view_name, kwargs={"pk": PLACEHOLDER_PK}, request=request)
        templates[view_name] = url.rpartition(str(PLACEHOLDER_PK))[::2]
    return templates[view_name]


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

    def to_representation(self, post):
        # What the fields above make of a post (a test holds the two equal), built
        # directly: DRF's per-field machinery was most of the cost of a page.
        request = self.context.get("request")
        if request is None:
            return super().to_representation(post)
        url_head, url_tail = detail_url_template(request, "blog:post-detail")
        return {
            "id": post.id,
            "url": f"{url_head}{post.id}{url_tail}",
            "title": post.title,
            "body": post.body,
            "created_at": DATETIME.to_representation(post.created_at),
            "user": {"id": post.user.id, "username": post.user.username},
        }


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

    def to_representation(self, comment):
        # As PostSerializer.to_representation: the fields' output, built directly.
        request = self.context.get("request")
        if request is None:
            return super().to_representation(comment)
        url_head, url_tail = detail_url_template(request, "blog:comment-detail")
        return {
            "id": comment.id,
            "url": f"{url_head}{comment.id}{url_tail}",
            "body": comment.body,
            "created_at": DATETIME.to_representation(comment.created_at),
            "user": {"id": comment.user.id, "username": comment.user.username},
            "post": {"id": comment.post.id, "title": comment.post.title},
        }


class CommentCreateSerializer(serializers.ModelSerializer):
    body = serializers.CharField(max_length=settings.BLOG_COMMENT_BODY_MAX_LENGTH)

    class Meta:
        model = Comment
        fields = ["id", "post", "body", "user"]
        read_only_fields = ["id", "post", "user"]

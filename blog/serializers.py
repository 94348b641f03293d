import copy

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import serializers

from .models import Comment, Post


class FieldsBuiltOnceMixin:
    """Builds a ModelSerializer's fields once per class; each instance gets fresh copies."""

    def get_fields(self):
        # ModelSerializer introspects the model for every instance, nested ones too: a
        # third of a detail request. What it builds depends only on the class.
        cls = type(self)
        if "_built_fields" not in cls.__dict__:
            cls._built_fields = super().get_fields()
        return copy.deepcopy(cls._built_fields)


class DetailURLField(serializers.HyperlinkedIdentityField):
    """An object's absolute URL, with reverse() and build_absolute_uri() run once per request."""

    # Reversed in place of a pk, then cut out, leaving the URL around it as a template.
    PLACEHOLDER_PK = 9_876_543_210

    def get_url(self, obj, view_name, request, format):
        if format or self.lookup_field != "pk" or not isinstance(obj.pk, int):
            return super().get_url(obj, view_name, request, format)
        if getattr(self, "_template_request", None) is not request:
            # A list reuses one field for every row; reversing once for them all is
            # more than half the cost of serializing a row.
            placeholder = type("Placeholder", (), {self.lookup_field: self.PLACEHOLDER_PK})
            url = super().get_url(placeholder, view_name, request, format)
            self._template = url.rpartition(str(self.PLACEHOLDER_PK))[::2]
            self._template_request = request
        head, tail = self._template
        return f"{head}{obj.pk}{tail}"


class AuthorSerializer(FieldsBuiltOnceMixin, serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username"]
        read_only_fields = fields


class PostSummarySerializer(FieldsBuiltOnceMixin, serializers.ModelSerializer):
    class Meta:
        model = Post
        fields = ["id", "title"]
        read_only_fields = fields


class PostSerializer(FieldsBuiltOnceMixin, serializers.ModelSerializer):
    url = DetailURLField(view_name="blog:post-detail")
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


class CommentSerializer(FieldsBuiltOnceMixin, serializers.ModelSerializer):
    url = DetailURLField(view_name="blog:comment-detail")
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

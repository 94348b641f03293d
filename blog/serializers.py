import functools

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import get_script_prefix, get_urlconf
from django.urls import reverse as django_reverse
from rest_framework import serializers

from .models import Comment, Post


# Reversed in place of a pk, then cut out, leaving the URL around it as a template.
PLACEHOLDER_PK = 9_876_543_210


@functools.lru_cache(maxsize=32)
def _detail_path_template(view_name, urlconf, script_prefix):
    path = django_reverse(view_name, kwargs={"pk": PLACEHOLDER_PK}, urlconf=urlconf)
    return path.rpartition(str(PLACEHOLDER_PK))[::2]


def detail_url_template(request, view_name):
    """The absolute URL of view_name as (head, tail) around the pk, as DRF's reverse() makes it.

    reverse() and build_absolute_uri() once per row were more than half of a row's cost;
    the path is reversed once per process, and made absolute once per serializer.
    """
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    head, tail = _detail_path_template(view_name, urlconf, get_script_prefix())
    return request.build_absolute_uri(head), tail


class RowSerializer(serializers.ModelSerializer):
    """Writes rows (dicts of `row_fields`, blog.rows) as JSON directly, as its fields would.

    The declared fields still describe the schema; a test holds the two outputs equal.
    Datetimes stay datetimes, as DRF's fields leave them (DATETIME_FORMAT is None in
    settings): the renderer writes them.
    Model instances and DRF's per-field machinery were most of the cost of a page.
    What is the same for every row is worked out once per serializer, i.e. per request.
    """

    row_fields = ()
    detail_view_name = None

    @functools.cached_property
    def url_template(self):
        return detail_url_template(self.context["request"], self.detail_view_name)


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


class PostSerializer(RowSerializer):
    """A post, with its detail URL and its author."""

    url = serializers.HyperlinkedIdentityField(view_name="blog:post-detail")
    user = AuthorSerializer(read_only=True)
    # The post's columns and, by one join, its author's username.
    row_fields = ("id", "title", "body", "created_at", "user_id", "user__username")
    detail_view_name = "blog:post-detail"

    class Meta:
        model = Post
        fields = ["id", "url", "title", "body", "created_at", "user"]
        read_only_fields = ["id", "created_at"]

    def to_representation(self, row):
        url_head, url_tail = self.url_template
        return {
            "id": row["id"],
            "url": f"{url_head}{row['id']}{url_tail}",
            "title": row["title"],
            "body": row["body"],
            "created_at": row["created_at"],
            "user": {"id": row["user_id"], "username": row["user__username"]},
        }


class PostCreateSerializer(serializers.ModelSerializer):
    body = serializers.CharField(max_length=settings.BLOG_POST_BODY_MAX_LENGTH)

    class Meta:
        model = Post
        fields = ["id", "title", "body", "user"]
        read_only_fields = ["id", "user"]


class CommentSerializer(RowSerializer):
    """A comment, with its detail URL, its author and the post it is on."""

    url = serializers.HyperlinkedIdentityField(view_name="blog:comment-detail")
    user = AuthorSerializer(read_only=True)
    post = PostSummarySerializer(read_only=True)
    # The comment's columns and, by two joins, its author's username and its post's title.
    row_fields = ("id", "body", "created_at", "user_id", "user__username", "post_id", "post__title")
    detail_view_name = "blog:comment-detail"

    class Meta:
        model = Comment
        fields = ["id", "url", "body", "created_at", "user", "post"]
        read_only_fields = ["id", "created_at"]

    def to_representation(self, row):
        url_head, url_tail = self.url_template
        return {
            "id": row["id"],
            "url": f"{url_head}{row['id']}{url_tail}",
            "body": row["body"],
            "created_at": row["created_at"],
            "user": {"id": row["user_id"], "username": row["user__username"]},
            "post": {"id": row["post_id"], "title": row["post__title"]},
        }


class CommentCreateSerializer(serializers.ModelSerializer):
    body = serializers.CharField(max_length=settings.BLOG_COMMENT_BODY_MAX_LENGTH)

    class Meta:
        model = Comment
        fields = ["id", "post", "body", "user"]
        read_only_fields = ["id", "post", "user"]

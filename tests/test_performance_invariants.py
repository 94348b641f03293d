"""What the performance work relies on, pinned so a later change cannot silently undo it.

Functional tests, not timings: the figures come from `make bench` (benchmarks/).
"""
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from blog.models import Comment, Post
from blog.pagination import BlogLimitOffsetPagination
from blog.serializers import CommentSerializer, PostSerializer


@pytest.fixture
def many_posts(user):
    """25 posts, with created_at ties so that the id tie-break matters."""
    base = timezone.now()
    posts = Post.objects.bulk_create(
        Post(title=f"Post {n}", body="Body", user=user) for n in range(25)
    )
    for n, post in enumerate(posts):
        post.created_at = base - timedelta(minutes=n // 3)
    Post.objects.bulk_update(posts, ["created_at"])
    return posts


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("table", "name", "columns", "orders"),
    [
        # Ascending, walked backwards: rising created_at keeps it packed (blog/models.py).
        ("blog_post", "post_newest_idx", ["created_at", "id"], ["ASC", "ASC"]),
        ("blog_comment", "comment_newest_idx", ["created_at", "id"], ["ASC", "ASC"]),
        ("blog_comment", "comment_post_newest_idx", ["post_id", "created_at", "id"], ["ASC", "DESC", "DESC"]),
    ],
)
def test_composite_index_matching_the_list_ordering_exists(table, name, columns, orders):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    assert name in constraints, f"{name} is missing: pages become sorts"
    assert constraints[name]["columns"] == columns
    assert constraints[name]["orders"] == orders


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("queryset", "index"),
    [
        (lambda: Post.objects.with_author(), "post_newest_idx"),
        (lambda: Comment.objects.with_related(), "comment_newest_idx"),
        (lambda: Comment.objects.with_related().filter(post_id=1), "comment_post_newest_idx"),
    ],
)
def test_a_deep_page_walks_the_ordering_index_without_sorting(queryset, index):
    if connection.vendor == "postgresql":
        # The test's tables are empty, where a scan and a sort are cheapest: ask whether
        # the index can give the order at all, as it must once there are rows.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
    ids = queryset().values("pk")[900:920]
    plan = queryset().filter(pk__in=ids).explain()
    assert index in plan, plan
    if connection.vendor == "sqlite":
        # The outer sort of the 20 fetched rows is expected; the walk itself is not sorted.
        assert f"COVERING INDEX {index}" in plan, plan


def test_deep_offset_page_is_a_deferred_join(api_client, many_posts, monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(BlogLimitOffsetPagination, "deferred_join_offset", 10)
    with django_assert_num_queries(2) as queries:
        response = api_client.get("/blog/posts", {"limit": 5, "offset": 12})
    assert len(response.json()["results"]) == 5
    page_sql = queries.captured_queries[-1]["sql"]
    assert " IN (SELECT " in page_sql, page_sql


@pytest.mark.parametrize("offset", [0, 1, 2, 5, 11, 20, 24, 25])
def test_deferred_join_returns_what_plain_offset_returns(api_client, many_posts, monkeypatch, offset):
    monkeypatch.setattr(BlogLimitOffsetPagination, "deferred_join_offset", float("inf"))
    plain = api_client.get("/blog/posts", {"limit": 4, "offset": offset}).json()
    monkeypatch.setattr(BlogLimitOffsetPagination, "deferred_join_offset", 0)
    deferred = api_client.get("/blog/posts", {"limit": 4, "offset": offset}).json()

    assert deferred == plain
    expected = list(Post.objects.order_by("-created_at", "-id").values_list("id", flat=True))
    assert [post["id"] for post in deferred["results"]] == expected[offset:offset + 4]


def test_deferred_join_on_a_posts_comments_returns_what_plain_offset_returns(
    api_client, make_post, make_comment, monkeypatch
):
    post = make_post()
    for n in range(7):
        make_comment(post=post, body=f"Comment {n}")
    make_comment(body="On another post")
    url = reverse("blog:post-comment-list", kwargs={"pk": post.pk})

    monkeypatch.setattr(BlogLimitOffsetPagination, "deferred_join_offset", float("inf"))
    plain = api_client.get(url, {"limit": 3, "offset": 2}).json()
    monkeypatch.setattr(BlogLimitOffsetPagination, "deferred_join_offset", 0)
    deferred = api_client.get(url, {"limit": 3, "offset": 2}).json()

    assert deferred == plain
    assert len(deferred["results"]) == 3


def test_counts_of_different_lists_are_kept_apart(api_client, make_post, make_comment):
    first, second = make_post(), make_post()
    make_comment(post=first), make_comment(post=first), make_comment(post=second)

    def count(url):
        return api_client.get(url).json()["count"]

    assert count("/blog/posts") == 2
    assert count("/blog/comments") == 3
    assert count(reverse("blog:post-comment-list", kwargs={"pk": first.pk})) == 2
    assert count(reverse("blog:post-comment-list", kwargs={"pk": second.pk})) == 1


@pytest.mark.parametrize("host", ["testserver", "api.example.com:8080"])
def test_url_field_equals_the_reverse_result(api_client, make_comment, host, settings):
    settings.ALLOWED_HOSTS = ["testserver", "api.example.com"]
    comment = make_comment()
    post = comment.post

    def absolute(name, pk):
        return f"http://{host}" + reverse(name, kwargs={"pk": pk})

    with_host = {"HTTP_HOST": host}
    posts = api_client.get("/blog/posts", **with_host).json()["results"]
    assert [p["url"] for p in posts] == [absolute("blog:post-detail", post.pk)]
    detail = api_client.get(reverse("blog:post-detail", kwargs={"pk": post.pk}), **with_host).json()
    assert detail["url"] == absolute("blog:post-detail", post.pk)
    comments = api_client.get("/blog/comments", **with_host).json()["results"]
    assert [c["url"] for c in comments] == [absolute("blog:comment-detail", comment.pk)]


@pytest.mark.parametrize("host", ["a.example.com", "b.example.com"])
def test_url_template_is_not_carried_from_one_request_to_the_next(api_client, make_post, host, settings):
    settings.ALLOWED_HOSTS = ["a.example.com", "b.example.com"]
    make_post(), make_post()
    urls = [p["url"] for p in api_client.get("/blog/posts", HTTP_HOST=host).json()["results"]]
    assert all(url.startswith(f"http://{host}/blog/post/") for url in urls)


@pytest.mark.parametrize("serializer_class", [PostSerializer, CommentSerializer])
def test_direct_representation_equals_what_the_declared_fields_make(make_comment, serializer_class):
    comment = make_comment()
    instance = Comment.objects.with_related().get() if serializer_class is CommentSerializer else (
        Post.objects.with_author().get(pk=comment.post_id))
    request = Request(APIRequestFactory().get("/", HTTP_HOST="testserver"))
    serializer = serializer_class(instance, context={"request": request})

    direct = serializer.to_representation(instance)
    declared = serializers.ModelSerializer.to_representation(serializer, instance)
    assert direct == declared
    assert list(direct) == list(declared) == serializer_class.Meta.fields

"""What the performance work relies on, pinned so a later change cannot silently undo it.

Functional tests, not timings: the figures come from `make bench` (benchmarks/).
"""
import zoneinfo
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory

from blog.models import Comment, Post, RowCount
from blog.negotiation import ContentNegotiation
from blog.pagination import BlogLimitOffsetPagination
from blog.renderers import JSONRenderer
from blog.views import CommentDetail, CommentList, PostCommentList, PostDetail, PostList


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
        (lambda: PostList.rows.queryset(), "post_newest_idx"),
        (lambda: CommentList.rows.queryset(), "comment_newest_idx"),
        (lambda: PostCommentList.rows.queryset(pk=1), "comment_post_newest_idx"),
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


def plain_and_deep_pages(api_client, monkeypatch, url, params):
    """The same page fetched by plain OFFSET, then by the deep-page path (deferred join or
    walk from the far end) at any offset; with the queries of the second."""
    monkeypatch.setattr(BlogLimitOffsetPagination, "deferred_join_offset", float("inf"))
    plain = api_client.get(url, params).json()
    monkeypatch.setattr(BlogLimitOffsetPagination, "deferred_join_offset", 0)
    with CaptureQueriesContext(connection) as queries:
        deep = api_client.get(url, params).json()
    return plain, deep, queries


@pytest.mark.parametrize("offset", [0, 1, 2, 5, 11, 20, 24, 25])
def test_deferred_join_returns_what_plain_offset_returns(api_client, many_posts, monkeypatch, offset):
    plain, deferred, _ = plain_and_deep_pages(
        api_client, monkeypatch, "/blog/posts", {"limit": 4, "offset": offset}
    )

    assert deferred == plain
    expected = list(Post.objects.order_by("-created_at", "-id").values_list("id", flat=True))
    assert [post["id"] for post in deferred["results"]] == expected[offset:offset + 4]


@pytest.fixture
def commented_post_url(make_post, make_comment):
    """The comment list URL of a new post with `count` comments ("Comment 0" the oldest),
    and one comment on another post besides."""

    def commented_post_url(count):
        post = make_post()
        for n in range(count):
            make_comment(post=post, body=f"Comment {n}")
        make_comment(body="On another post")
        return reverse("blog:post-comment-list", kwargs={"pk": post.pk})

    return commented_post_url


def test_deferred_join_on_a_posts_comments_returns_what_plain_offset_returns(
    api_client, commented_post_url, monkeypatch
):
    url = commented_post_url(7)

    plain, deferred, _ = plain_and_deep_pages(api_client, monkeypatch, url, {"limit": 3, "offset": 2})

    assert deferred == plain
    assert len(deferred["results"]) == 3


TIED_ROWS = 26  # even, so that half of it is an offset


@pytest.fixture
def tied_posts_and_comments(user):
    """26 posts and 26 comments, with created_at shared in threes so that the id tie-break matters."""
    posts = Post.objects.bulk_create(Post(title=f"Post {n}", body="Body", user=user) for n in range(TIED_ROWS))
    comments = Comment.objects.bulk_create(
        Comment(post=posts[n % 5], body=f"Comment {n}", user=user) for n in range(TIED_ROWS))
    base = timezone.now()
    for model, rows in ((Post, posts), (Comment, comments)):
        for n, row in enumerate(rows):
            row.created_at = base - timedelta(minutes=n // 3)
        model.objects.bulk_update(rows, ["created_at"])


def page_sql_reads_the_counter(queries):
    """Whether a query after the count (the page's) reads the row counter: the walk from the far end."""
    return any(RowCount._meta.db_table in query["sql"] for query in queries.captured_queries[1:])


@pytest.mark.parametrize(("url", "model"), [("/blog/posts", Post), ("/blog/comments", Comment)])
@pytest.mark.parametrize(
    ("offset", "limit"),
    [
        (12, 4), (13, 4), (13, 13),  # up to half the rows: from the near end
        (14, 4), (14, 100), (20, 4), (22, 4),  # past half: from the far end
        (23, 4), (25, 4), (25, 1),  # the last, shorter pages
        (26, 4), (27, 4),  # at the end (walked, in case rows came meanwhile) and past it: empty
    ],
)
def test_a_page_past_half_the_rows_is_walked_from_the_far_end_and_equals_plain_offset(
    api_client, tied_posts_and_comments, monkeypatch, url, model, offset, limit
):
    plain, page, queries = plain_and_deep_pages(api_client, monkeypatch, url, {"limit": limit, "offset": offset})

    assert page == plain
    expected = list(model.objects.order_by("-created_at", "-id").values_list("id", flat=True))
    assert [row["id"] for row in page["results"]] == expected[offset:offset + limit]
    assert page_sql_reads_the_counter(queries) == (TIED_ROWS / 2 < offset <= TIED_ROWS)


def test_a_far_end_page_is_not_shifted_by_a_row_written_after_the_count(
    api_client, tied_posts_and_comments, make_post, monkeypatch
):
    monkeypatch.setattr(BlogLimitOffsetPagination, "deferred_join_offset", 0)
    get_count = BlogLimitOffsetPagination.get_count

    def count_then_another_writer_creates_a_post(self, queryset):
        count = get_count(self, queryset)
        make_post(title="Written between the count and the page")
        return count

    monkeypatch.setattr(BlogLimitOffsetPagination, "get_count", count_then_another_writer_creates_a_post)
    page = api_client.get("/blog/posts", {"limit": 4, "offset": 20}).json()

    # What a plain OFFSET run after the write returns, as it would have been in the old way.
    expected = list(Post.objects.order_by("-created_at", "-id").values_list("id", flat=True))
    assert Post.objects.count() == TIED_ROWS + 1
    assert [row["id"] for row in page["results"]] == expected[20:24]


def test_a_deep_page_of_a_posts_comments_is_not_walked_from_the_far_end(
    api_client, commented_post_url, monkeypatch
):
    url = commented_post_url(8)

    plain, deferred, queries = plain_and_deep_pages(api_client, monkeypatch, url, {"limit": 3, "offset": 6})

    # Filtered: counted with COUNT(*), and the counter says nothing about where its rows are.
    assert deferred == plain
    assert deferred["count"] == 8
    assert not page_sql_reads_the_counter(queries)
    assert [c["body"] for c in deferred["results"]] == ["Comment 1", "Comment 0"]


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


@pytest.mark.parametrize("view", [PostDetail, CommentDetail])
def test_direct_representation_equals_what_the_declared_fields_make(make_comment, view):
    comment = make_comment()
    serializer_class = view.serializer_class
    model = serializer_class.Meta.model
    pk = comment.pk if model is Comment else comment.post_id
    instance = model.objects.get(pk=pk)
    request = Request(APIRequestFactory().get("/", HTTP_HOST="testserver"))

    # One serializer per request, as in a view: it keeps what is the same for all rows.
    serializer = serializer_class(instance, context={"request": request})
    declared = serializers.ModelSerializer.to_representation(serializer, instance)
    # The row as the compiled SQL reads it, and as the ORM's values() makes it.
    for row in [*view.rows.fetch(pk=pk), view.rows.values(view.rows.queryset(pk=pk)).get()]:
        direct = serializer.to_representation(row)
        assert direct == declared
        assert list(direct) == serializer_class.Meta.fields
        assert JSONRenderer().render(direct) == DRFJSONRenderer().render(declared)


@pytest.mark.parametrize(("url", "model"), [("/blog/posts", Post), ("/blog/comments", Comment)])
@pytest.mark.parametrize(("offset", "queries"), [(0, 1), (24, 1), (26, 2), (40, 2)])
def test_a_near_page_carries_its_count_and_past_the_end_the_count_is_read_alone(
    api_client, tied_posts_and_comments, django_assert_num_queries, url, model, offset, queries
):
    with django_assert_num_queries(queries):
        page = api_client.get(url, {"limit": 5, "offset": offset}).json()

    expected = list(model.objects.order_by("-created_at", "-id").values_list("id", flat=True))
    assert page["count"] == TIED_ROWS
    assert [row["id"] for row in page["results"]] == expected[offset:offset + 5]
    keys = {key for row in page["results"] for key in row}
    assert keys <= {"id", "url", "title", "body", "created_at", "user", "post"}


@pytest.mark.parametrize(("offset", "queries"), [(0, 1), (4, 1), (6, 3), (10, 3)])
def test_a_posts_comments_carry_their_count_and_past_the_end_it_is_read_alone(
    api_client, tied_posts_and_comments, django_assert_num_queries, offset, queries
):
    post = Post.objects.order_by("pk").first()  # 6 of the 26 comments; the others are on 4 other posts
    url = reverse("blog:post-comment-list", kwargs={"pk": post.pk})

    # Past the end: the page, the count on its own, and whether the post exists.
    with django_assert_num_queries(queries):
        page = api_client.get(url, {"limit": 5, "offset": offset}).json()

    expected = list(Comment.objects.filter(post=post).order_by("-created_at", "-id").values_list("id", flat=True))
    assert page["count"] == len(expected) == 6
    assert [row["id"] for row in page["results"]] == expected[offset:offset + 5]


@pytest.mark.parametrize(
    "query",
    ["", "?limit=20", "?limit=5&offset=3", "?offset=10&limit=5&x=1&x=2&empty=", "?offset=40&limit=20&format=json"],
)
@pytest.mark.parametrize(("offset", "count"), [(0, 100), (3, 100), (5, 100), (10, 100), (40, 45), (95, 100)])
def test_next_and_previous_links_equal_drfs(query, offset, count):
    request = Request(APIRequestFactory().get(f"/blog/posts{query}"))
    links = []
    for paginator in (LimitOffsetPagination(), BlogLimitOffsetPagination()):
        paginator.request, paginator.limit, paginator.offset, paginator.count = request, 5, offset, count
        links.append((paginator.get_next_link(), paginator.get_previous_link()))

    assert links[0] == links[1]


def test_the_json_renderer_writes_what_drfs_writes(api_client, make_post):
    make_post(title="Ünïcode \u2028 and \u2029 and \"quotes\" </script>", body="Line\nbreak \U0001f600")
    page = api_client.get("/blog/posts").json()
    errors = {
        "title": [ErrorDetail("This field is required.", code="required")],
        "detail": gettext_lazy("Not found."),
    }
    times = {
        "utc": datetime(2026, 11, 24, 8, 30, tzinfo=dt_timezone.utc),
        "microseconds": datetime(2026, 11, 24, 8, 30, 1, 5, tzinfo=zoneinfo.ZoneInfo("UTC")),
        "zero offset, other zone": datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=zoneinfo.ZoneInfo("Europe/London")),
        "offset": datetime(2026, 7, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Kolkata")),
    }
    for data in (page, errors, {"count": 0, "next": None, "results": []}, times):
        assert JSONRenderer().render(data, "application/json") == DRFJSONRenderer().render(
            data, "application/json"
        )
    assert api_client.get("/blog/posts")["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "accept",
    [None, "*/*", "", "application/json", "application/json; indent=4", "text/html",
     "text/html,application/xhtml+xml,*/*;q=0.8", "*/*; q=0.5", "*/*;charset=utf-8", "application/xml"],
)
@pytest.mark.parametrize(("query", "suffix"), [("", None), ("?format=json", None), ("?format=api", None),
                                               ("?format=", None), ("?format=xml", None), ("", "json")])
def test_content_negotiation_answers_what_drfs_answers(accept, query, suffix):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/blog/posts{query}", **headers))
    renderers = [renderer() for renderer in api_settings.DEFAULT_RENDERER_CLASSES]
    answers = []
    for negotiation in (DefaultContentNegotiation(), ContentNegotiation()):
        try:
            renderer, media_type = negotiation.select_renderer(request, renderers, suffix)
            answers.append((renderer, media_type))
        except Exception as error:
            answers.append(type(error))

    assert answers[0] == answers[1]


@pytest.mark.parametrize(("url", "table"), [("/blog/posts", "blog_post"), ("/blog/comments", "blog_comment")])
def test_a_lists_prepared_statement_is_not_planned_again_on_every_run(api_client, make_comment, url, table):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    make_comment()
    # psycopg prepares a statement on its 5th run; PostgreSQL then plans it 5 times for
    # the values given before it weighs its generic plan.
    for _ in range(15):
        api_client.get(url)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            [f'SELECT %FROM "{table}" INNER JOIN%LIMIT 20%'],
        )
        generic_plans = [row[0] for row in cursor.fetchall()]

    assert generic_plans and all(plans > 0 for plans in generic_plans)

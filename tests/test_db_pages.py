"""blog.db.pages: deep pages walk the list's index from the nearer end and equal plain OFFSET."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from blog.models import Comment, Post, RowCount
from blog.pagination import BlogLimitOffsetPagination
from blog.views import CommentList, PostCommentList, PostList

from .helpers import TIED_ROWS


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
        (lambda: PostList.queryset, "post_newest_idx"),
        (lambda: CommentList.queryset, "comment_newest_idx"),
        (lambda: PostCommentList.queryset.filter(post_id=1), "comment_post_newest_idx"),
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


def test_deep_offset_page_is_a_deferred_join(api_client, tied_posts_and_comments, monkeypatch, django_assert_num_queries):
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
def test_deferred_join_returns_what_plain_offset_returns(api_client, tied_posts_and_comments, monkeypatch, offset):
    plain, deferred, _ = plain_and_deep_pages(
        api_client, monkeypatch, "/blog/posts", {"limit": 4, "offset": offset}
    )

    assert deferred == plain
    expected = list(Post.objects.order_by("-created_at", "-id").values_list("id", flat=True))
    assert [post["id"] for post in deferred["results"]] == expected[offset:offset + 4]


def test_deferred_join_on_a_posts_comments_returns_what_plain_offset_returns(
    api_client, commented_post_url, monkeypatch
):
    url = commented_post_url(7)

    plain, deferred, _ = plain_and_deep_pages(api_client, monkeypatch, url, {"limit": 3, "offset": 2})

    assert deferred == plain
    assert len(deferred["results"]) == 3


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

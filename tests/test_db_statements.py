"""blog.db.statements.CompiledStatement: the ORM's rows, by SQL compiled once per process."""
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Value
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from blog.db.statements import CompiledStatement
from blog.models import Comment, Post

POST_COLUMNS = ("id", "title", "body", "created_at", "user__id", "user__username")
COMMENT_COLUMNS = ("id", "body", "created_at", "user__id", "user__username", "post__id", "post__title")

pytestmark = pytest.mark.django_db


def all_posts():
    return Post.objects.all()


def posts_by_id(pk):
    return Post.objects.filter(pk=pk)


def comments_on(pk):
    return Comment.objects.filter(post_id=pk)


@pytest.fixture
def posts_with_ties(make_user):
    """12 posts by two authors, three to a timestamp, so the id tie-break decides the order."""
    authors = [make_user(username="ann"), make_user(username="bob")]
    base = timezone.now()
    posts = Post.objects.bulk_create(
        Post(title=f"Post {n}", body="Body", user=authors[n % 2]) for n in range(12)
    )
    for n, post in enumerate(posts):
        post.created_at = base - timedelta(minutes=n // 3)
    Post.objects.bulk_update(posts, ["created_at"])
    return posts


@pytest.mark.parametrize(("limit", "offset"), [(5, 0), (5, 4), (5, 10), (20, 0), (3, 12), (3, 40)])
def test_a_page_is_what_the_orm_slice_returns(posts_with_ties, limit, offset):
    statement = CompiledStatement(all_posts, (), POST_COLUMNS)
    orm_page = Post.objects.values_list(*POST_COLUMNS)[offset:offset + limit]

    assert [tuple(row) for row in statement.fetch({}, limit, offset)] == list(orm_page)


def test_values_are_read_per_fetch_not_kept_from_the_first(make_post, make_comment):
    first, second = make_post(), make_post()
    make_comment(post=first), make_comment(post=first), make_comment(post=second)
    statement = CompiledStatement(comments_on, ("pk",), COMMENT_COLUMNS)

    for post in [first, second, first]:
        expected = list(Comment.objects.filter(post_id=post.pk).values_list(*COMMENT_COLUMNS))
        assert [tuple(row) for row in statement.fetch({"pk": post.pk})] == expected
        assert [tuple(row) for row in statement.fetch({"pk": post.pk}, 1, 0)] == expected[:1]
    assert statement.fetch({"pk": second.pk + first.pk + 1000}) == []


def test_rows_read_by_the_orm_are_those_fetch_gives(make_comment):
    comment = make_comment()
    statement = CompiledStatement(comments_on, ("pk",), COMMENT_COLUMNS)

    fetched = statement.fetch({"pk": comment.post_id})
    assert [tuple(row) for row in statement.rows_of(statement.queryset(pk=comment.post_id))] == [
        tuple(row) for row in fetched
    ]


def test_an_extra_value_comes_after_the_columns(make_post):
    post = make_post()
    statement = CompiledStatement(posts_by_id, ("pk",), ("id", "title")).with_extra(lambda queryset: Value(7))

    assert [tuple(row) for row in statement.fetch({"pk": post.pk})] == [(post.pk, post.title, 7)]


def test_sql_is_compiled_once(make_post):
    post = make_post()
    statement = CompiledStatement(posts_by_id, ("pk",), POST_COLUMNS)
    assert statement.fetch({"pk": post.pk})[0][0] == post.pk

    with mock.patch.object(SQLCompiler, "as_sql", side_effect=AssertionError("compiled again")):
        assert statement.fetch({"pk": post.pk})[0][0] == post.pk
        assert statement.fetch({"pk": post.pk + 1}) == []


def test_database_values_are_converted_as_the_orm_converts_them(make_post):
    post = make_post()
    row = CompiledStatement(all_posts, (), POST_COLUMNS).fetch({})[0]

    assert row[POST_COLUMNS.index("created_at")] == post.created_at
    assert timezone.is_aware(row[POST_COLUMNS.index("created_at")])


def test_a_sliced_queryset_is_refused_clearly():
    statement = CompiledStatement(lambda: Post.objects.all()[:5], (), POST_COLUMNS)
    with pytest.raises(ImproperlyConfigured, match="unsliced"):
        statement.fetch({})


def test_a_parameter_the_sql_does_not_take_is_refused_clearly():
    statement = CompiledStatement(lambda pk: Post.objects.all(), ("pk",), POST_COLUMNS)
    with pytest.raises(ImproperlyConfigured, match="'pk' must reach the SQL"):
        statement.fetch({"pk": 1})


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

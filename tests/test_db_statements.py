"""blog.rows.CompiledRows: the ORM's rows, by SQL compiled once per process."""
from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from blog.models import Comment, Post
from blog.rows import CompiledRows
from blog.serializers import CommentSerializer, PostSerializer

POST_FIELDS, COMMENT_FIELDS = PostSerializer.row_fields, CommentSerializer.row_fields

pytestmark = pytest.mark.django_db


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
    rows = CompiledRows(lambda: Post.objects.all(), POST_FIELDS)
    orm_page = Post.objects.values(*POST_FIELDS)[offset:offset + limit]

    assert rows.fetch(limit=limit, offset=offset) == list(orm_page)


def test_values_are_read_per_fetch_not_kept_from_the_first(make_post, make_comment):
    first, second = make_post(), make_post()
    make_comment(post=first), make_comment(post=first), make_comment(post=second)
    rows = CompiledRows(lambda pk: Comment.objects.filter(post_id=pk), COMMENT_FIELDS)

    for post in [first, second, first]:
        expected = list(Comment.objects.filter(post_id=post.pk).values(*COMMENT_FIELDS))
        assert rows.fetch(pk=post.pk) == expected
        assert rows.fetch(limit=1, offset=0, pk=post.pk) == expected[:1]
    assert rows.fetch(pk=second.pk + first.pk + 1000) == []


def test_sql_is_compiled_once(make_post):
    post = make_post()
    rows = CompiledRows(lambda pk: Post.objects.filter(pk=pk), POST_FIELDS)
    assert rows.fetch(pk=post.pk)[0]["id"] == post.pk

    with mock.patch.object(SQLCompiler, "as_sql", side_effect=AssertionError("compiled again")):
        assert rows.fetch(pk=post.pk)[0]["id"] == post.pk
        assert rows.fetch(pk=post.pk + 1) == []


def test_database_values_are_converted_as_the_orm_converts_them(make_post):
    post = make_post()
    row = CompiledRows(lambda: Post.objects.all(), POST_FIELDS).fetch()[0]

    assert row["created_at"] == post.created_at
    assert timezone.is_aware(row["created_at"])


def test_a_sliced_queryset_is_refused_clearly():
    rows = CompiledRows(lambda: Post.objects.all()[:5], POST_FIELDS)
    with pytest.raises(ImproperlyConfigured, match="unsliced"):
        rows.fetch()


def test_a_parameter_the_sql_does_not_take_is_refused_clearly():
    rows = CompiledRows(lambda pk: Post.objects.all(), POST_FIELDS)
    with pytest.raises(ImproperlyConfigured, match="'pk' must reach the SQL"):
        rows.fetch(pk=1)

"""The row counts the database's triggers keep (blog.models.RowCount): exact, whoever writes."""
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from blog import seeding
from blog.models import Comment, Post, RowCount
from blog.pagination import BlogLimitOffsetPagination

BEFORE_ROW_COUNTS = ("blog", "0002_cache_table")
ROW_COUNTS = ("blog", "0003_row_counts")


def assert_counts(posts, comments):
    """Each counter equals its table's COUNT(*), and that is the number expected."""
    counters = dict(RowCount.objects.values_list("table", "rows"))

    def counter(model):
        return counters.get(model._meta.db_table, 0)  # a missing row means 0

    assert {"posts": counter(Post), "comments": counter(Comment)} == {
        "posts": Post.objects.count(),
        "comments": Comment.objects.count(),
    } == {"posts": posts, "comments": comments}


def list_count(client, name):
    return client.get(reverse(name)).json()["count"]


def test_creates_through_the_api_are_counted(auth_client):
    ids = [auth_client.post(reverse("blog:post-create"), {"title": "T", "body": "B"}, format="json").json()["id"]
           for _ in range(2)]
    for pk in (ids[0], ids[0], ids[1]):
        response = auth_client.post(reverse("blog:comment-create", kwargs={"pk": pk}), {"body": "C"}, format="json")
        assert response.status_code == 201

    assert_counts(posts=2, comments=3)


def test_the_count_in_a_response_changes_with_the_next_create(auth_client, make_comment):
    make_comment(), make_comment()
    assert (list_count(auth_client, "blog:post-list"), list_count(auth_client, "blog:comment-list")) == (2, 2)

    post = auth_client.post(reverse("blog:post-create"), {"title": "T", "body": "B"}, format="json").json()
    assert list_count(auth_client, "blog:post-list") == 3
    auth_client.post(reverse("blog:comment-create", kwargs={"pk": post["id"]}), {"body": "C"}, format="json")
    assert list_count(auth_client, "blog:comment-list") == 3


def test_orm_deletes_are_counted(make_post, make_comment):
    posts = [make_post() for _ in range(4)]
    comments = [make_comment(post=posts[0]) for _ in range(3)]

    comments[0].delete()
    Comment.objects.filter(pk=comments[1].pk).delete()
    Post.objects.filter(pk__in=[posts[2].pk, posts[3].pk]).delete()

    assert_counts(posts=2, comments=1)


def test_deleting_a_post_counts_its_comments_deleted_with_it(make_post, make_comment):
    doomed, kept = make_post(), make_post()
    for post in (doomed, doomed, doomed, kept):
        make_comment(post=post)

    doomed.delete()

    assert_counts(posts=1, comments=1)


def test_deleting_a_user_counts_their_posts_and_comments_deleted_with_them(make_user, make_post, make_comment):
    leaving, staying = make_user("leaving"), make_user("staying")
    their_post, other_post = make_post(author=leaving), make_post(author=staying)
    make_comment(post=their_post, author=staying)  # goes with the post
    make_comment(post=other_post, author=leaving)  # goes with its author
    make_comment(post=other_post, author=staying)  # stays

    leaving.delete()

    assert_counts(posts=1, comments=1)


def test_raw_sql_inserts_and_deletes_are_counted(make_post):
    make_post(), make_post()
    quote = connection.ops.quote_name
    table = quote(Post._meta.db_table)
    columns = ", ".join(quote(Post._meta.get_field(name).column) for name in ("title", "body", "user", "created_at"))
    with connection.cursor() as cursor:
        # Several rows a statement: on PostgreSQL the triggers run once per statement.
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}")
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}")
        assert_counts(posts=8, comments=0)
        cursor.execute(f"DELETE FROM {table} WHERE {quote(Post._meta.pk.column)} > %s", [Post.objects.order_by("pk")[4].pk])

    assert_counts(posts=5, comments=0)


def test_statements_that_change_no_rows_leave_the_counts_alone(make_post):
    make_post()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {quote(Post._meta.db_table)} WHERE 1 = 0")
        cursor.execute(f"INSERT INTO {quote(Post._meta.db_table)} SELECT * FROM {quote(Post._meta.db_table)} WHERE 1 = 0")

    assert_counts(posts=1, comments=0)


def seed_blog(**options):
    call_command("seed_blog", stdout=StringIO(), interactive=False, users=3, **options)


def test_seed_blog_bulk_inserts_are_counted(make_post, fast_password_hashing):
    make_post()

    # Several batches: executemany on SQLite, COPY on PostgreSQL.
    seed_blog(posts=250, comments=330, batch_size=100)

    assert_counts(posts=251, comments=330)


def test_inserts_after_seed_blog_and_after_a_failed_batch_are_still_counted(
    make_post, fast_password_hashing, monkeypatch
):
    if connection.vendor == "sqlite":
        # Seeding drops this trigger for each batch and counts the batch itself.
        assert seeding.sqlite_count_trigger(Post) is not None
    seed_blog(posts=20, comments=20, batch_size=10)
    insert_rows = seeding.insert_rows

    def fail_after_half_a_batch(model, fields, rows):
        insert_rows(model, fields, rows[: len(rows) // 2])
        raise RuntimeError("disk full")

    monkeypatch.setattr(seeding, "insert_rows", fail_after_half_a_batch)
    with pytest.raises(RuntimeError, match="disk full"):
        seed_blog(posts=10, comments=0)

    make_post()
    assert_counts(posts=21, comments=20)


def test_seed_blog_clear_leaves_the_counts_right(make_comment, fast_password_hashing):
    make_comment(), make_comment()
    seed_blog(posts=40, comments=50)

    seed_blog(posts=30, comments=20, clear=True)
    assert_counts(posts=30, comments=20)

    seed_blog(posts=0, comments=0, clear=True)
    assert_counts(posts=0, comments=0)


def test_flush_leaves_the_counts_right(transactional_db, make_user, make_post, make_comment):
    make_comment(), make_comment()

    # What pytest-django runs after each transactional test.
    call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True)
    assert_counts(posts=0, comments=0)

    author = make_user("after_the_flush")  # the flush took the first one
    make_comment(post=make_post(author=author), author=author)
    assert_counts(posts=1, comments=1)


@pytest.mark.parametrize("counter_position", [0, 1, 2])
def test_flushing_the_tables_in_any_order_leaves_the_counts_right(transactional_db, make_comment, counter_position):
    make_comment(), make_comment()
    tables = [Comment._meta.db_table, Post._meta.db_table]
    tables.insert(counter_position, RowCount._meta.db_table)

    for table in tables:
        connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), [table], allow_cascade=True))
    assert_counts(posts=0, comments=0)

    make_comment(), make_comment(), make_comment()
    assert_counts(posts=3, comments=3)


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([target])


def test_the_migration_counts_the_rows_already_there_and_its_reverse_removes_the_triggers(
    transactional_db, make_post, make_comment
):
    make_comment(), make_comment(post=make_post())
    try:
        migrate(BEFORE_ROW_COUNTS)
        # Without its triggers: with them, writes would fail on the missing counter table.
        make_comment(), make_post().delete()
    finally:
        migrate(ROW_COUNTS)

    assert_counts(posts=3, comments=3)
    make_post()
    assert_counts(posts=4, comments=3)


@pytest.mark.parametrize("offset", [0, 2, 40])
def test_a_missing_counter_row_is_counted_not_read_as_zero(api_client, make_post, monkeypatch, offset):
    for _ in range(3):
        make_post()
    RowCount.objects.filter(table=Post._meta.db_table).delete()
    monkeypatch.setattr(BlogLimitOffsetPagination, "deferred_join_offset", 2)  # the far-end walk too

    page = api_client.get(reverse("blog:post-list"), {"limit": 1, "offset": offset}).json()

    assert page["count"] == 3
    assert len(page["results"]) == (1 if offset < 3 else 0)
    assert (page["next"] is None) == (offset >= 2)

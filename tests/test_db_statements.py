"""blog.db.statements.CompiledStatement: the ORM's rows, by SQL compiled once per process."""
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from unittest import mock

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Value
from django.db.models.expressions import RawSQL
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from blog.db.statements import CompiledStatement, SQLiteDatetimes
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


# Text as Django writes datetimes into SQLite, and text it may find there written otherwise.
DATETIME_TEXTS = ["2024-05-01 12:34:56.123456", "2024-05-01 12:34:56", "2024-05-01 12:34", "2024-05-01T12",
                  "2024-05-01 12:34:56.123", "2024-05-01T12:34:56+02:00", "2024-05-01 12:34:56-05",
                  "2024-05-01 12:34:56Z", "2024-05-01 12:34:56,5", "2024-02-30 10:00:00", None,
                  # and as the driver gives a column declared datetime: parsed, naive
                  datetime(2024, 5, 1, 12, 34, 56, 123456), datetime(2024, 5, 1, 12, 34),
                  datetime(2024, 10, 27, 2, 30, fold=1), datetime(2024, 5, 1, 12, tzinfo=dt_timezone.utc)]


def sqlite_datetimes():
    from django.db.backends.sqlite3.base import DatabaseWrapper

    wrapper = DatabaseWrapper({**connection.settings_dict, "NAME": ":memory:", "TIME_ZONE": None})
    return wrapper, SQLiteDatetimes.instead_of(wrapper.ops.convert_datetimefield_value)


def outcome(convert, value, wrapper):
    try:
        converted = convert(value, None, wrapper)
    except Exception as error:  # noqa: BLE001 - the same error is part of the same answer
        return type(error)
    return (converted, getattr(converted, "tzinfo", None), getattr(converted, "fold", None),
            getattr(converted, "isoformat", str)())


@pytest.mark.parametrize("use_tz", [True, False])
@pytest.mark.parametrize("database_zone", [None, "Europe/Paris"])
def test_sqlite_datetimes_are_djangos_converter_faster(settings, use_tz, database_zone):
    settings.USE_TZ = use_tz
    wrapper, fast = sqlite_datetimes()
    wrapper.settings_dict["TIME_ZONE"] = database_zone
    django_converter = wrapper.ops.convert_datetimefield_value
    assert isinstance(fast, SQLiteDatetimes)

    convert = fast.for_fetch(wrapper)
    for value in DATETIME_TEXTS:
        assert outcome(convert, value, wrapper) == outcome(django_converter, value, wrapper), value


def test_a_backend_that_overrides_the_datetime_converter_keeps_its_own():
    from django.db.backends.sqlite3.operations import DatabaseOperations

    class Operations(DatabaseOperations):
        def convert_datetimefield_value(self, value, expression, connection):
            return "its own"

    own = Operations(connection).convert_datetimefield_value
    assert SQLiteDatetimes.instead_of(own) is own


def test_a_page_on_sqlite_is_read_by_the_faster_converter(make_post):
    if connection.vendor != "sqlite":
        pytest.skip("the converter is SQLite's")
    post = make_post()
    statement = CompiledStatement(all_posts, (), POST_COLUMNS)

    row = statement.fetch({})[0]
    position = POST_COLUMNS.index("created_at")
    assert row[position] == post.created_at
    [functions] = [functions for at, functions, _ in statement._compile().converters if at == position]
    assert [type(function) for function in functions] == [SQLiteDatetimes]
    # Selected as text, so that the driver does not parse it first.
    assert '+"blog_post"."created_at"' in statement._compile().sql


@pytest.mark.parametrize(("build", "columns"), [(all_posts, POST_COLUMNS), (comments_on, COMMENT_COLUMNS)])
def test_datetimes_read_as_text_on_sqlite_still_order_by_their_index(build, columns):
    if connection.vendor != "sqlite":
        pytest.skip("datetimes are read as text on SQLite")
    statement = CompiledStatement(lambda **values: build(**values).order_by("-created_at", "-id"),
                                  ("pk",) if build is comments_on else (), columns)
    compiled = statement._compile()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + compiled.sql + " LIMIT 20", compiled.params)
        plan = " ".join(str(step) for step in cursor.fetchall())

    assert "+" in compiled.sql and "USING INDEX" in plan and "TEMP B-TREE" not in plan, plan


def test_sqlite_runs_the_sql_its_cursor_would_make_of_it_and_the_same_rows(make_comment):
    if connection.vendor != "sqlite":
        pytest.skip("the conversion is SQLite's cursor's")
    from django.db.backends.sqlite3.base import SQLiteCursorWrapper

    comment = make_comment()
    statement = CompiledStatement(comments_on, ("pk",), COMMENT_COLUMNS)

    rows = statement.fetch({"pk": comment.post_id}, 5, 0)
    assert [tuple(row) for row in rows] == list(comments_on(comment.post_id).values_list(*COMMENT_COLUMNS)[:5])
    compiled = statement._compile()
    assert compiled.qmark_sql == SQLiteCursorWrapper.convert_query(None, compiled.sql)
    assert compiled.qmark_sql.count("?") == len(compiled.params) and "%s" not in compiled.qmark_sql


def test_sql_with_a_literal_percent_gets_it_back_as_djangos_cursor_would(make_post):
    post = make_post(title="Fifty")
    statement = CompiledStatement(
        lambda pk: Post.objects.filter(pk=pk).annotate(share=RawSQL("'50%%'", ())), ("pk",), ("title", "share"))

    assert [tuple(row) for row in statement.fetch({"pk": post.pk})] == [("Fifty", "50%")]
    if connection.vendor == "sqlite":
        assert "'50%'" in statement._compile().qmark_sql


def test_execute_wrappers_see_every_fetch_with_its_values(make_comment):
    comment = make_comment()
    statement = CompiledStatement(comments_on, ("pk",), COMMENT_COLUMNS)
    seen = []

    def record(execute, sql, params, many, context):
        seen.append((sql, list(params)))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        rows = statement.fetch({"pk": comment.post_id}, 5, 0)
    assert [row[0] for row in rows] == [comment.pk]
    [(sql, params)] = seen
    assert sql.endswith(" LIMIT 5 OFFSET 0") and comment.post_id in params


def test_a_logged_fetch_is_counted_as_a_query(make_comment):
    comment = make_comment()
    statement = CompiledStatement(comments_on, ("pk",), COMMENT_COLUMNS)

    with CaptureQueriesContext(connection) as captured:
        statement.fetch({"pk": comment.post_id})
    assert len(captured) == 1 and str(comment.post_id) in captured[0]["sql"]


def test_a_failing_fetch_raises_djangos_database_error_not_the_drivers():
    statement = CompiledStatement(
        lambda pk: Post.objects.filter(pk=pk).annotate(missing=RawSQL("SELECT 1 FROM no_such_table", ())),
        ("pk",), ("title", "missing"))

    with pytest.raises(DatabaseError) as raised:
        statement.fetch({"pk": 1})
    assert type(raised.value).__module__ == "django.db.utils"


def test_a_fetch_in_a_broken_transaction_is_refused_as_django_refuses_it():
    statement = CompiledStatement(posts_by_id, ("pk",), POST_COLUMNS)

    with transaction.atomic():
        connection.needs_rollback = True
        with pytest.raises(TransactionManagementError):
            statement.fetch({"pk": 1})
        connection.needs_rollback = False

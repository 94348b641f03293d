"""Upgrade canary: each framework internal the project relies on, checked by name.

The modules under blog/db/, blog/authentication.py, blog/pagination.py, blog/reads.py,
blog/renderers.py and blog/throttling.py list what they rely on in their docstrings; this
module holds one check per item, so that an upgrade of Django, DRF, drf-orjson-renderer
or psycopg that changes one fails here, with the file to fix named, rather than somewhere
deep in a behaviour test. CI runs it on the pinned versions and on the newest ones the
requirements admit (.ci/run).
"""
import inspect
import sqlite3

import pytest
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, Count
from django.db.models.expressions import RawSQL
from django.http import HttpRequest
from rest_framework import serializers
from rest_framework.relations import HyperlinkedIdentityField
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework.throttling import SimpleRateThrottle

from blog.models import Comment, Post

pytestmark = pytest.mark.django_db


def relied_on(where, what):
    return f"{where} relies on {what}; this version changed it: adapt {where} (see its docstring)"


def test_a_queryset_knows_whether_it_is_sliced():
    query = Post.objects.all()[3:5].query
    assert (query.low_mark, query.high_mark) == (3, 5), relied_on("blog/db/statements.py", "Query.low_mark/high_mark")
    assert query.is_sliced, relied_on("blog/pagination.py", "Query.is_sliced")


def test_the_compiler_gives_sql_with_the_filter_values_among_its_params_and_its_select():
    compiler = Comment.objects.filter(post_id=-12345).values_list("id", "created_at", "user__username") \
        .query.get_compiler(using="default")
    sql, params = compiler.as_sql()
    where = "blog/db/statements.py"
    assert isinstance(sql, str) and -12345 in params, relied_on(where, "SQLCompiler.as_sql() -> (sql, params)")
    assert compiler.col_count == 3, relied_on(where, "SQLCompiler.col_count after as_sql()")
    expressions = [select[0] for select in compiler.select[:compiler.col_count]]
    converters = compiler.get_converters(expressions)
    assert isinstance(converters, dict), relied_on(where, "SQLCompiler.get_converters() -> {position: ...}")
    for position, (functions, expression) in converters.items():
        assert 0 <= position < 3 and callable(functions[0]), relied_on(where, "(functions, expression) converters")
        assert len(inspect.signature(functions[0]).parameters) == 3, relied_on(
            where, "converters called as function(value, expression, connection)")


def test_the_cursor_wrapper_exposes_the_drivers_cursor():
    with connection.cursor() as cursor:
        assert hasattr(cursor, "cursor") and hasattr(cursor.cursor, "execute"), relied_on(
            "blog/db/statements.py", "CursorWrapper.cursor")
        if connection.vendor == "postgresql":
            from psycopg.types.datetime import TimestamptzLoader

            assert callable(cursor.cursor.adapters.register_loader) and TimestamptzLoader, relied_on(
                "blog/db/statements.py", "psycopg's cursor.adapters.register_loader and TimestamptzLoader")


def test_a_query_says_whether_it_filters_combines_and_how_it_is_ordered():
    where = "blog/db/counters.py and blog/db/pages.py"
    whole, filtered = Post.objects.all().query, Post.objects.filter(pk=1).query
    assert not whole.where and filtered.where, relied_on(where, "Query.where, empty without a filter")
    union = Post.objects.order_by().union(Post.objects.order_by()).query
    assert union.combinator == "union" and not whole.combinator, relied_on(where, "Query.combinator")
    assert whole.order_by == () and whole.default_ordering, relied_on(where, "Query.order_by, default_ordering")
    assert not (whole.distinct or whole.extra) and whole.group_by is None, relied_on(
        where, "Query.distinct, extra, group_by empty on a plain queryset")
    joined = Post.objects.filter(comments__body="x", user__username="y").query
    join_fields = {join.table_name: join.join_field for join in joined.alias_map.values()
                   if hasattr(join, "join_field")}
    assert set(join_fields) == {"blog_comment", "auth_user"}, relied_on(where, "Query.alias_map's joins")
    assert not join_fields["blog_comment"].many_to_one and join_fields["auth_user"].many_to_one, relied_on(
        where, "a join's join_field: the ForeignKey forward (many_to_one), the relation object backward")
    grouped = Post.objects.annotate(n=Count("comments")).query
    assert grouped.group_by is not None and Post.objects.distinct().query.distinct, relied_on(
        "blog/reads.py", "Query.group_by set by an aggregate, Query.distinct by distinct()")
    assert whole.get_meta().ordering == ["-created_at", "-id"], relied_on(where, "Query.get_meta().ordering")


def test_raw_sql_serves_as_a_column_and_as_a_condition(make_post):
    post = make_post()
    where = "blog/db/counters.py and blog/db/pages.py"
    row = Post.objects.values_list("id", RawSQL("%s", [7])).get()
    assert row == (post.pk, 7), relied_on(where, "RawSQL in values_list()")
    condition = RawSQL(f"{connection.ops.quote_name('id')} = %s", [post.pk], output_field=BooleanField())
    assert list(Post.objects.filter(condition)) == [post], relied_on(where, "RawSQL as a filter() condition")


def test_django_runs_the_health_check_hook_before_a_requests_first_query():
    where = "blog/db/postgresql/base.py"
    source = inspect.getsource(BaseDatabaseWrapper)
    assert "self.close_if_health_check_failed()" in source, relied_on(where, "close_if_health_check_failed()")
    for attribute in ("health_check_enabled", "health_check_done"):
        assert attribute in source, relied_on(where, f"BaseDatabaseWrapper.{attribute}")
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        assert hasattr(connection, "pool") and isinstance(connection.connection.closed, bool), relied_on(
            where, "DatabaseWrapper.pool and psycopg's Connection.closed")
        assert connection.connection.fileno() > 0, relied_on(where, "psycopg's Connection.fileno()")


def test_a_hyperlinked_identity_field_reverses_through_its_reverse_attribute(make_post):
    post = make_post()
    field = HyperlinkedIdentityField(view_name="blog:post-detail")
    calls = []
    field.reverse = lambda *args, **kwargs: calls.append((args, kwargs)) or "http://x/"
    serializer = serializers.Serializer(context={"request": Request(APIRequestFactory().get("/")), "format": "j"})
    field.bind("url", serializer)

    field.to_representation(post)

    assert calls, relied_on("blog/reads.py", "HyperlinkedRelatedField.to_representation calling self.reverse")
    (view_name,), kwargs = calls[0]
    assert (view_name, kwargs["kwargs"], kwargs["format"]) == ("blog:post-detail", {"pk": post.pk}, "j"), \
        relied_on("blog/reads.py", "reverse(view_name, kwargs={lookup_url_kwarg: value}, request=, format=)")


@pytest.mark.parametrize("query", ["", "?format=json"])
def test_drfs_reverse_is_djangos_made_absolute_with_the_builtin_query_params(query):
    from rest_framework.reverse import reverse

    from blog.reads import reverse_link_template

    request = Request(APIRequestFactory().get(f"/blog/posts{query}", HTTP_HOST="testserver"))
    view = type("View", (), {"request": request, "format_kwarg": None})
    head, tail = reverse_link_template(HyperlinkedIdentityField(view_name="blog:post-detail"), view)

    assert f"{head}42{tail}" == reverse("blog:post-detail", kwargs={"pk": 42}, request=request), relied_on(
        "blog/reads.py", "DRF's reverse(): Django's reverse(), build_absolute_uri(), preserve_builtin_query_params()")


def test_a_serializer_writes_none_for_a_none_attribute_and_skips_write_only_fields():
    class Probe(serializers.Serializer):
        title = serializers.CharField()
        secret = serializers.CharField(write_only=True)

    assert Probe(type("Row", (), {"title": None, "secret": "s"})()).data == {"title": None}, relied_on(
        "blog/reads.py", "Serializer.to_representation: None for a None attribute, no write-only fields")


def test_the_orjson_renderer_reads_its_options_from_rest_framework_settings():
    import orjson

    from blog.renderers import BlogJSONRenderer

    assert BlogJSONRenderer.options & orjson.OPT_UTC_Z, relied_on(
        "blog/renderers.py", "drf-orjson-renderer's ORJSON_RENDERER_OPTIONS setting")


def test_content_negotiation_reads_the_format_override_setting():
    from rest_framework.negotiation import DefaultContentNegotiation

    assert DefaultContentNegotiation.settings.URL_FORMAT_OVERRIDE == "format", relied_on(
        "blog/renderers.py", "DefaultContentNegotiation.settings.URL_FORMAT_OVERRIDE")
    parameters = list(inspect.signature(DefaultContentNegotiation.select_renderer).parameters)
    assert parameters == ["self", "request", "renderers", "format_suffix"], relied_on(
        "blog/renderers.py", "select_renderer(request, renderers, format_suffix)")


def test_the_rate_throttle_keeps_the_rate_cache_timer_and_key_format_the_login_throttles_use():
    where = "blog/throttling.py"

    class Probe(SimpleRateThrottle):
        scope = "probe"
        THROTTLE_RATES = {"probe": "7/min"}

    probe = Probe()
    assert (probe.num_requests, probe.duration) == (7, 60), relied_on(
        where, "SimpleRateThrottle.__init__ setting num_requests and duration from the scope's rate")
    assert isinstance(probe.timer(), float), relied_on(where, "SimpleRateThrottle.timer()")
    assert callable(probe.cache.add) and callable(probe.cache.get_many), relied_on(where, "SimpleRateThrottle.cache")
    key = probe.cache_format % {"scope": "probe", "ident": "x"}
    assert "probe" in key and "x" in key, relied_on(where, "SimpleRateThrottle.cache_format's scope and ident")


def test_the_token_serializers_internal_values_are_what_validate_is_given():
    from rest_framework.authtoken.serializers import AuthTokenSerializer
    from rest_framework.authtoken.views import ObtainAuthToken

    where = "blog/throttling.py"
    given = []

    class Probe(AuthTokenSerializer):
        def validate(self, attrs):
            given.append(attrs)
            raise serializers.ValidationError("stop here")

    data = {"username": 12345, "password": " secret "}
    Probe(data=data).is_valid()
    assert given == [Probe().to_internal_value(data)], relied_on(
        where, "Serializer.to_internal_value() giving validate() its attrs")
    assert callable(ObtainAuthToken().get_serializer), relied_on(where, "ObtainAuthToken.get_serializer()")


def test_bulk_loading_finds_copy_the_flush_sql_and_the_count_trigger():
    from django.core.management.color import no_style

    from blog.db.bulk import sqlite_count_trigger

    where = "blog/db/bulk.py"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            assert callable(getattr(cursor.cursor, "copy", None)), relied_on(where, "psycopg 3's Cursor.copy()")
    flush = connection.ops.sql_flush(no_style(), [Post._meta.db_table])
    assert flush and all(isinstance(statement, str) for statement in flush), relied_on(where, "ops.sql_flush()")
    assert callable(connection.ops.execute_sql_flush), relied_on(where, "ops.execute_sql_flush()")
    if connection.vendor == "sqlite":
        name, sql = sqlite_count_trigger(Post)
        assert name == "blog_post_count_insert" and "CREATE TRIGGER" in sql, relied_on(
            where, "migration 0003's SQLite trigger in sqlite_master")


def test_raw_cursors_read_datetimes_as_the_bulk_loader_expects(make_post):
    from django.utils import timezone

    post = make_post()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT created_at FROM {Post._meta.db_table} WHERE id = %s", [post.pk])
        value = cursor.fetchone()[0]
    if connection.vendor == "sqlite":
        assert timezone.is_naive(value) and value == post.created_at.replace(tzinfo=None), relied_on(
            "blog/db/bulk.py", "SQLite's datetime converter reading naive datetimes")
    else:
        assert value == post.created_at, relied_on("blog/db/bulk.py", "psycopg reading aware datetimes")


def test_sqlites_datetime_converter_parses_iso_text_then_makes_it_aware(settings):
    import datetime

    from django.db.backends.sqlite3.base import DatabaseWrapper

    settings.USE_TZ = True
    wrapper = DatabaseWrapper({**connection.settings_dict, "NAME": ":memory:", "TIME_ZONE": None})
    text = "2024-05-01 12:34:56.123456"
    converted = wrapper.ops.convert_datetimefield_value(text, None, wrapper)
    expected = datetime.datetime.fromisoformat(text).replace(tzinfo=wrapper.timezone)
    assert converted == expected and converted.tzinfo is expected.tzinfo, relied_on(
        "blog/db/statements.py", "SQLite's convert_datetimefield_value(): fromisoformat(), then make_aware()")


def test_a_big_integer_field_writes_text_only_when_coerced(settings):
    where = "blog/reads.py"
    assert serializers.BigIntegerField(coerce_to_string=True).to_representation(5) == "5", relied_on(
        where, "BigIntegerField(coerce_to_string=True) writing str(value)")
    assert serializers.BigIntegerField(coerce_to_string=False).to_representation(5) == 5, relied_on(
        where, "BigIntegerField(coerce_to_string=False) writing the int")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "COERCE_BIGINT_TO_STRING": True}
    assert serializers.BigIntegerField().to_representation(5) == "5", relied_on(
        where, "BigIntegerField reading COERCE_BIGINT_TO_STRING when coerce_to_string is not given")


@pytest.mark.parametrize("path", ["/blog/posts", "//blog/posts", "/a/./b/../c", "/\u00e9t\u00e9 x"])
@pytest.mark.parametrize("query", ["", "limit=5&offset=10", "q=%C3%A9&x=a+b&\u2713=1"])
def test_a_requests_absolute_uri_is_made_of_its_scheme_and_host_path_and_query_string(settings, path, query):
    settings.ALLOWED_HOSTS = ["api.example"]
    request = APIRequestFactory().get(path, secure=True, HTTP_HOST="api.example:8443")
    request.META["QUERY_STRING"] = query
    made = HttpRequest()
    made.path, made.META["QUERY_STRING"] = request.path, query
    made._current_scheme_host = request._current_scheme_host
    assert made.build_absolute_uri() == request.build_absolute_uri(), relied_on(
        "blog/pagination.py", "build_absolute_uri() reading only _current_scheme_host, path and QUERY_STRING")


@pytest.mark.parametrize("location", ["/blog/post/9", "//other.example/x", "/a/./b/../c", "/\u00e9t\u00e9 x"])
def test_the_absolute_uri_of_an_absolute_path_is_made_of_the_requests_scheme_and_host_alone(settings, location):
    settings.ALLOWED_HOSTS = ["api.example"]
    request = APIRequestFactory().get("/some/where/else", secure=True, HTTP_HOST="api.example:8443")
    made = HttpRequest()
    made._current_scheme_host = request._current_scheme_host
    assert made.build_absolute_uri(location) == request.build_absolute_uri(location), relied_on(
        "blog/reads.py", "build_absolute_uri(location) reading only _current_scheme_host for an absolute path")


def test_a_requests_get_is_built_from_the_query_string_on_first_use():
    from django.core.handlers.asgi import ASGIRequest
    from django.core.handlers.wsgi import WSGIRequest
    from django.utils.functional import cached_property

    for request_class in (WSGIRequest, ASGIRequest):
        assert isinstance(inspect.getattr_static(request_class, "GET"), cached_property), relied_on(
            "blog/renderers.py", f"{request_class.__name__}.GET being a cached_property")
    request = APIRequestFactory().get("/blog/post/1", {"format": "json"})
    assert "GET" not in vars(request) and request.GET["format"] == "json" and "GET" in vars(request), relied_on(
        "blog/renderers.py", "request.GET built from QUERY_STRING on first use, then kept")


def test_djangos_cursor_passes_sql_to_the_drivers_as_statements_runs_it():
    from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX, SQLiteCursorWrapper
    from django.db.backends.utils import CursorDebugWrapper, CursorWrapper

    where = "blog/db/statements.py"
    sql = "a = %s AND b LIKE '%%s'"
    assert SQLiteCursorWrapper.convert_query(None, sql) == FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%") \
        == "a = ? AND b LIKE '%s'", relied_on(where, "SQLiteCursorWrapper.convert_query() of format SQL")
    execute = inspect.getsource(SQLiteCursorWrapper.execute)
    assert "self.convert_query(query" in execute and "super().execute(query, params)" in execute \
        and issubclass(SQLiteCursorWrapper, sqlite3.Cursor), relied_on(
            where, "SQLiteCursorWrapper.execute() being convert_query() and then sqlite3.Cursor's execute()")
    run = inspect.getsource(CursorWrapper._execute)
    assert "self.db.validate_no_broken_transaction()" in run and "with self.db.wrap_database_errors:" in run \
        and "self.cursor.execute(sql, params)" in run, relied_on(
            where, "CursorWrapper._execute(): the broken-transaction check, then the driver's execute() "
            "inside wrap_database_errors")
    assert "_execute_with_wrappers" in inspect.getsource(CursorWrapper.execute) and isinstance(
        connection.execute_wrappers, list), relied_on(where, "CursorWrapper.execute() running execute_wrappers")
    assert issubclass(CursorDebugWrapper, CursorWrapper) and CursorDebugWrapper is not CursorWrapper \
        and type(connection.make_cursor(None)) is CursorWrapper, relied_on(
            where, "a plain cursor being a CursorWrapper, and a logged one another class")


def test_the_auth_middlewares_lazy_user_reads_a_session_that_is_empty_without_a_key():
    from django.contrib.auth import get_user
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.utils.functional import empty

    from blog.authentication import MIDDLEWARE_USER_CODE

    where = "blog/authentication.py"
    request = RequestFactory().get("/")
    sessions = SessionMiddleware(lambda request: HttpResponse())
    sessions.process_request(request)
    AuthenticationMiddleware(lambda request: None).process_request(request)
    lazy = object.__getattribute__(request.user, "__dict__")
    assert MIDDLEWARE_USER_CODE is not None and lazy["_wrapped"] is empty \
        and lazy["_setupfunc"].__code__ is MIDDLEWARE_USER_CODE, relied_on(
            where, "AuthenticationMiddleware.process_request() setting request.user to a SimpleLazyObject of its lambda")
    assert "request.session" in inspect.getsource(get_user.__globals__["_get_user_session_key"]), relied_on(
        where, "auth.get_user() reading the user's id from request.session")
    session = request.session
    assert session.session_key is None and "_session_cache" not in vars(session) and not session.accessed
    assert dict(session.items()) == {} and vars(session)["_session_cache"] == {} and session.accessed, relied_on(
        where, "SessionBase reading a session without a key as empty, into _session_cache")
    response = sessions.process_response(request, HttpResponse())
    assert "Cookie" in response["Vary"], relied_on(where, "SessionMiddleware adding Vary: Cookie when session.accessed")

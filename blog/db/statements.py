"""Querysets compiled to SQL once per process, then run with each request's values.

Django compiles a queryset to SQL every time it runs it, and for a read endpoint that
asks the same question on every request that costs more than the query itself
(docs/performance.md). A `CompiledStatement` has the ORM compile the queryset once, with
a placeholder where each changing value goes, and runs that SQL with new values: the ORM
still writes every query, once, and its converters still read every value.

Relies on (check on each Django upgrade; tests/test_upgrade_canary.py fails if one changes):
- `QuerySet.query.low_mark` / `high_mark`: a sliced queryset is refused.
- `Query.get_compiler(using=...)`, `SQLCompiler.as_sql()` returning (sql, params) with the
  filter values among params, `SQLCompiler.select` and `col_count` after as_sql(), and
  `SQLCompiler.get_converters(expressions)` returning {position: (functions, expression)},
  each function called as `function(value, expression, connection)`.
- `CursorWrapper.cursor` (the driver's cursor) and, on PostgreSQL, psycopg 3's
  `cursor.adapters.register_loader()` and `psycopg.types.datetime.TimestamptzLoader`.
- `CursorWrapper.execute()` being: each of `connection.execute_wrappers`, then
  `_execute()`: `validate_no_broken_transaction()` and the driver's execute() inside
  `wrap_database_errors`; a logged cursor (DEBUG, captured queries) being another class.
- On SQLite, `SQLiteCursorWrapper.execute()` being `convert_query()` (FORMAT_QMARK_REGEX's
  placeholders to `?`, `%%` to `%`) and then sqlite3.Cursor's execute().
- On SQLite, Django's compiler ordering by a selected expression's column, not by the
  select's position, when the expression wraps the column (SQLiteText); and the driver
  calling no converter for a column without a declared type.
- On SQLite, `DatabaseOperations.convert_datetimefield_value()` being: a str goes through
  `parse_datetime()`, which returns `datetime.fromisoformat(value)` when that parses;
  then, with USE_TZ, a naive value gets `replace(tzinfo=connection.timezone)` (make_aware).
"""
import datetime
import sqlite3
import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX, SQLiteCursorWrapper
from django.db.backends.sqlite3.operations import DatabaseOperations as SQLiteOperations
from django.db.backends.utils import CursorWrapper
from django.db.models import F, Func
from django.db.models.expressions import Col

# Values no real id takes: negative and far outside any sequence.
FIRST_PLACEHOLDER = -7_919_000_000_000_001


class CompiledStatement:
    """The rows of `build(**values).values_list(*columns)`, compiled once, fetched as lists.

    `build` returns the queryset; its keyword parameters are the integers that change
    from one fetch to the next (ids from the URL). To find where they go in the SQL it is
    called once with a distinct placeholder for each, which must then appear among the
    query's parameters. `extra` adds expressions after the columns, each a function of the
    queryset (e.g. the rows' count), so that a row's first len(columns) values are always
    the columns.
    """

    def __init__(self, build, names, columns, extra=()):
        self.build = build
        self.names = tuple(names)
        self.columns = tuple(columns)
        self.extra = tuple(extra)
        self._compiled = None
        self._lock = threading.Lock()

    def with_extra(self, make_expression):
        """This statement with one more value at the end of each row."""
        return CompiledStatement(self.build, self.names, self.columns, (*self.extra, make_expression))

    def queryset(self, **values):
        """The ORM's own queryset for these values, as model instances."""
        return self.build(**values)

    def rows_of(self, queryset):
        """A queryset's rows as fetch() gives them without the extra values, read by the ORM."""
        return list(queryset.values_list(*self.columns))

    def select(self, queryset, as_text=None):
        """The queryset's values_list() of the columns and the extra values; the columns at the
        positions of `as_text` ({position: model field}) read as SQLite stores them."""
        as_text = as_text or {}
        columns = [SQLiteText(F(column), output_field=as_text[position]) if position in as_text else column
                   for position, column in enumerate(self.columns)]
        return queryset.values_list(*columns, *(make(queryset) for make in self.extra))

    def fetch(self, values, limit=None, offset=0):
        """The rows (sequences) for these values, a dict of this statement's names; a slice when limit is given."""
        compiled = self._compile()
        params = list(compiled.params)
        for name, positions in compiled.slots:
            for position in positions:
                params[position] = values[name]
        # Integers written into the SQL, as Django's compiler writes them: as parameters,
        # PostgreSQL cannot know how many rows a prepared statement's LIMIT lets through,
        # and plans it anew on every run.
        page = "" if limit is None else f" LIMIT {int(limit)} OFFSET {int(offset)}"
        connection = connections[compiled.using]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                load_datetimes_natively(cursor.cursor)
            rows = execute(connection, cursor, compiled, page, params)
        if not compiled.converters:
            return rows
        rows = [list(row) for row in rows]
        for position, functions, expression in compiled.converters:
            functions = [function.for_fetch(connection) if isinstance(function, SQLiteDatetimes) else function
                         for function in functions]
            if len(functions) == 1:
                # A column's usual single converter, without a loop over one function per value.
                [convert] = functions
                for row in rows:
                    row[position] = convert(row[position], expression, connection)
                continue
            for row in rows:
                value = row[position]
                for convert in functions:
                    value = convert(value, expression, connection)
                row[position] = value
        return rows

    def _compile(self):
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    self._compiled = _Compiled(self)
        return self._compiled


class _Compiled:
    def __init__(self, statement):
        placeholders = {name: FIRST_PLACEHOLDER - n for n, name in enumerate(statement.names)}
        built = statement.build(**placeholders)
        queryset = statement.select(built)
        query = queryset.query
        if query.low_mark or query.high_mark is not None:
            raise ImproperlyConfigured("CompiledStatement: build an unsliced queryset; fetch() slices it.")
        self.using = queryset.db
        compiler = query.get_compiler(using=self.using)
        sql, params = compiler.as_sql()
        if connections[self.using].vendor == "sqlite" and (datetimes := find_datetime_columns(compiler)):
            # Read as text, SQLite's driver does not parse them first; SQLiteDatetimes does.
            compiler = statement.select(built, as_text=datetimes).query.get_compiler(using=self.using)
            sql, params = compiler.as_sql()
        self.sql, self.params = sql, tuple(params)
        # The SQL SQLite's cursor wrapper would make of it on every execute (convert_query()).
        self.qmark_sql = FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")
        self.slots = [
            (name, [position for position, param in enumerate(self.params) if param == placeholder])
            for name, placeholder in placeholders.items()
        ]
        for name, positions in self.slots:
            if not positions or str(placeholders[name]) in sql:
                raise ImproperlyConfigured(
                    f"CompiledStatement: {name!r} must reach the SQL as a query parameter, "
                    "e.g. as a filter value."
                )
        expressions = [select[0] for select in compiler.select[:compiler.col_count]]
        self.converters = [
            (position, [SQLiteDatetimes.instead_of(function) for function in functions], expression)
            for position, (functions, expression) in compiler.get_converters(expressions).items()
        ]


class SQLiteText(Func):
    """A column's value as SQLite stores it, with no declared type: the driver calls no converter on it.

    SQLite's unary + gives back its operand unchanged, text as text; Django's converters
    for the output field still apply. Orderings name the column, not the select's
    position, so an index on it still serves them.
    """

    template = "+%(expressions)s"


def find_datetime_columns(compiler):
    """{position: model field} of the DateTimeField columns a compiled query selects."""
    return {
        position: expression.output_field
        for position, (expression, _, _) in enumerate(compiler.select[:compiler.col_count])
        if isinstance(expression, Col) and expression.output_field.get_internal_type() == "DateTimeField"
    }


def execute(connection, cursor, compiled, page, params):
    """The rows of the compiled SQL with this page and these parameters, as `cursor.execute()` and
    `fetchall()` give them.

    Where Django's cursor would only pass the SQL on (no execute_wrappers installed, queries
    not logged: a plain CursorWrapper), the driver's cursor is called as it would call it,
    without the layers of calls between; the wrappers, a debug cursor (DEBUG,
    django_assert_num_queries) and any other cursor get Django's own path.
    """
    if type(cursor) is not CursorWrapper or connection.execute_wrappers:
        cursor.execute(compiled.sql + page, params)
        return cursor.fetchall()
    driver_cursor = cursor.cursor
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        if type(driver_cursor) is SQLiteCursorWrapper:
            # Its execute() is convert_query() and then the driver's: converted once, in _Compiled.
            sqlite3.Cursor.execute(driver_cursor, compiled.qmark_sql + page, params)
        else:
            driver_cursor.execute(compiled.sql + page, params)
        return driver_cursor.fetchall()


class SQLiteDatetimes:
    """Django's SQLite datetime converter, for one fetch: the same datetimes, in a fraction
    of its time (docs/performance.md).

    For a column selected as itself SQLite's driver parses the text into a naive datetime
    (Django registers parse_datetime() as its converter); Django's backend converter then
    reads settings.USE_TZ and, for each value, makes it aware in the connection's zone
    through make_aware(), i.e. replace(tzinfo=...). This reads the setting and the zone
    once per fetch and builds the aware datetime with datetime.combine(), which costs a
    fifth of replace() with a keyword. Text (a compiled statement reads its datetime
    columns through SQLiteText, so that the driver's parsing is not paid twice over) is
    parsed as parse_datetime() first parses it, with fromisoformat(). Anything else, and
    a value fromisoformat() refuses, goes to Django's converter. A backend whose
    operations override convert_datetimefield_value() keeps its own.
    """

    def __init__(self, django_converter):
        self.django_converter = django_converter

    @classmethod
    def instead_of(cls, function):
        if getattr(function, "__func__", None) is SQLiteOperations.convert_datetimefield_value:
            return cls(function)
        return function

    def for_fetch(self, connection):
        zone = connection.timezone if settings.USE_TZ else None
        django_converter, datetime_type = self.django_converter, datetime.datetime
        fromisoformat, combine = datetime_type.fromisoformat, datetime_type.combine

        def convert(value, expression, connection):
            if type(value) is str:
                try:
                    value = fromisoformat(value)
                except ValueError:
                    return django_converter(value, expression, connection)
            if type(value) is not datetime_type or value.fold:
                return django_converter(value, expression, connection)
            # A naive value (what the driver gives) has no offset: asking costs a call.
            if zone is None or (value.tzinfo is not None and value.utcoffset() is not None):
                return value
            return combine(value.date(), value.time(), zone)

        return convert


def load_datetimes_natively(cursor):
    """Have this psycopg cursor load timestamptz values with psycopg's own loader.

    Django's loader calls psycopg's, then sets again in Python the very time zone psycopg
    gave: either way an aware datetime of the same instant, which is all a serializer
    uses. The rest of Django keeps its loader.
    """
    from psycopg.types.datetime import TimestamptzLoader

    cursor.adapters.register_loader("timestamptz", TimestamptzLoader)

"""Rows of a values() queryset, by SQL the ORM compiles once per process instead of per request.

Django turns a queryset into SQL each time it is evaluated. For a page of posts joined to
their authors that costs three times the query itself, and building model instances from
the rows costs as much again (benchmarks/). A read endpoint asks the same question every
time with different values, so its queryset is compiled on first use and the SQL is then
run with each request's values: the ORM still writes every query, once.
"""
import inspect
import threading

from django.core.exceptions import ImproperlyConfigured
from django.db import connections


class CompiledRows:
    """A queryset's values(*fields), compiled once per process, fetched as dicts with new values.

    `build` returns the queryset; its parameters (e.g. `pk`) are the values that change
    from one fetch to the next. To find where they go in the SQL it is called once with a
    distinct placeholder for each, which must then appear among the query's parameters.
    """

    def __init__(self, build, fields, **columns):
        self.build = build
        self.fields = tuple(fields)
        # More columns by name, each a function of the rows' queryset returning the
        # expression that values(**expressions) adds.
        self.columns = columns
        self.names = tuple(inspect.signature(build).parameters)
        self._compiled = None
        self._with = {}
        self._lock = threading.Lock()

    def with_column(self, name, make_expression):
        """These rows with one more column, `name`, computed by the expression that
        `make_expression(queryset)` returns for the rows' queryset.

        Compiled once per name, with the placeholders' queryset: a value of the URL's
        that the expression takes from the queryset goes into it as well.
        """
        if name not in self._with:
            with self._lock:
                if name not in self._with:
                    self._with[name] = CompiledRows(
                        self.build, self.fields, **self.columns, **{name: make_expression}
                    )
        return self._with[name]

    def queryset(self, **values):
        """The ORM's own queryset for these values, as model instances: for counting, and
        for walking an index to a deep page (values() joins would get in the way)."""
        return self.build(**values)

    def values(self, queryset):
        """A queryset's rows as fetch() gives them, read by the ORM."""
        return queryset.values(
            *self.fields, **{name: make_expression(queryset) for name, make_expression in self.columns.items()}
        )

    def fetch(self, *, limit=None, offset=0, **values):
        """The rows for these values, as the queryset's dicts; a slice when limit is given."""
        compiled = self._compile()
        params = list(compiled.params)
        for name, positions in compiled.slots.items():
            for position in positions:
                params[position] = values[name]
        sql = compiled.sql
        if limit is not None:
            # Integers written into the SQL, as Django's compiler writes them. As
            # parameters, PostgreSQL cannot know how many rows a prepared statement's
            # LIMIT lets through, so it never adopts the statement's generic plan and
            # plans it anew on every run.
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        connection = connections[compiled.using]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                _load_datetimes_natively(cursor.cursor)
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        names, converters = compiled.names, compiled.converters
        result = [dict(zip(names, row)) for row in rows]
        for row in result if converters else ():
            for name, functions, expression in converters:
                value = row[name]
                for convert in functions:
                    value = convert(value, expression, connection)
                row[name] = value
        return result

    def _compile(self):
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    self._compiled = _Compiled(self)
        return self._compiled


class _Compiled:
    # Placeholders no real id takes: negative and far outside any sequence.
    FIRST_PLACEHOLDER = -7_919_000_000_000_001

    def __init__(self, rows):
        placeholders = {name: self.FIRST_PLACEHOLDER - n for n, name in enumerate(rows.names)}
        queryset = rows.values(rows.build(**placeholders))
        query = queryset.query
        if query.low_mark or query.high_mark is not None:
            raise ImproperlyConfigured("CompiledRows: build an unsliced queryset; fetch() slices it.")
        self.using = queryset.db
        compiler = query.get_compiler(using=self.using)
        sql, params = compiler.as_sql()
        self.sql, self.params = sql, tuple(params)
        self.slots = {
            name: [position for position, param in enumerate(self.params) if param == placeholder]
            for name, placeholder in placeholders.items()
        }
        for name, positions in self.slots.items():
            if not positions or str(placeholders[name]) in sql:
                raise ImproperlyConfigured(
                    f"CompiledRows: {name!r} must reach the SQL as a query parameter, "
                    "e.g. as a filter value."
                )
        # The names values() gives its dicts, in column order (as Django's ValuesIterable).
        self.names = list(query.selected) if query.selected else [
            *query.extra_select, *query.values_select, *query.annotation_select
        ]
        columns = [select[0] for select in compiler.select[:compiler.col_count]]
        self.converters = [
            (self.names[position], functions, expression)
            for position, (functions, expression) in compiler.get_converters(columns).items()
        ]


def _load_datetimes_natively(cursor):
    """Have this psycopg cursor load timestamptz values with psycopg's own loader.

    Django's loader calls psycopg's and then replaces the time zone with the very zone
    psycopg gives (the connection's), in Python: 9 µs a value, 140 µs of a 20-post page
    (a one-off in-process timing). Either way an aware datetime of the same instant,
    which is all the serializers use; the rest of Django keeps its loader.
    """
    from psycopg.types.datetime import TimestamptzLoader

    cursor.adapters.register_loader("timestamptz", TimestamptzLoader)

"""Deep pages of a list: conditions true of exactly the rows a plain OFFSET would return.

A plain OFFSET reads, joins and throws away every row it skips. These walk the list's
ordering index for ids alone, from the nearer end, and fetch only the page's rows
(docs/performance.md has the figures).

Relies on (check on each Django upgrade; tests/test_upgrade_canary.py fails if one changes):
- `Query.order_by`, `Query.default_ordering` and `Options.ordering` to know the ordering.
- `Query.get_compiler(connection=...).as_sql()` for the reversed walk's subquery.
- `RawSQL(sql, params, output_field=BooleanField())` as a filter() condition.
"""
from django.db import connections
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

from .counters import get_table_count_sql


def ends_with_primary_key(queryset):
    """Whether `queryset`'s ordering ends with its primary key, so that it is a total order."""
    query = queryset.query
    ordering = query.order_by or (query.get_meta().ordering if query.default_ordering else ())
    last = ordering[-1] if ordering else None
    return isinstance(last, str) and last.lstrip("-") in ("pk", queryset.model._meta.pk.name)


def select_by_deferred_join(queryset, offset, limit):
    """The page's rows, found by walking the ordering's index for their ids alone (index-only),
    then joining just those rows: the same rows as a plain OFFSET."""
    return Q(pk__in=queryset.values("pk")[offset:offset + limit])


def select_from_the_far_end(queryset, table, offset, limit):
    """The page's rows, found by walking the ordering backwards from the last row.

    For a page past half the list the far end is nearer. Reversed, the ordering is a total
    order (it must end with the primary key), so the rows are exactly those of the plain
    OFFSET; the outer query sorts them back. The distance from the far end comes from
    `table`'s counter inside this same statement, not from a count read before it: a row
    written in between would otherwise shift the page by one.
    """
    connection = connections[queryset.db]
    quote = connection.ops.quote_name
    walk, walk_params = queryset.reverse().values("pk").query.get_compiler(connection=connection).as_sql()
    count, count_params = get_table_count_sql(connection, table)
    # GREATEST and LEAST on PostgreSQL; MAX and MIN with two arguments on SQLite.
    greatest, least = ("MAX", "MIN") if connection.vendor == "sqlite" else ("GREATEST", "LEAST")
    walk = (
        f"{walk} LIMIT {greatest}({least}(%s, {count} - %s), 0) "
        f"OFFSET {greatest}({count} - %s - %s, 0)"
    )
    params = (*walk_params, limit, *count_params, offset, *count_params, offset, limit)
    pk = f"{quote(queryset.model._meta.db_table)}.{quote(queryset.model._meta.pk.column)}"
    if connection.vendor == "postgresql":
        # Not IN (subquery): PostgreSQL cannot know how many ids a LIMIT computed by a
        # subquery lets through, guesses a tenth of the table, and joins it by reading
        # all of it. An array is looked up through the primary key.
        return RawSQL(f"{pk} = ANY(ARRAY({walk}))", params, output_field=BooleanField())
    return RawSQL(f"{pk} IN ({walk})", params, output_field=BooleanField())

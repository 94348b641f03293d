"""Row counts of whole tables, read from the counters that migration 0003's triggers keep.

COUNT(*) reads every row of a table; the counter is one row. A missing counter row
(only `flush` or a hand edit removes one) is counted with COUNT(*) instead of being
read as 0.

Relies on (check on each Django upgrade; tests/test_upgrade_canary.py fails if one changes):
- `Query.where` (empty when nothing filters), `Query.combinator` (union() and the like),
  `Query.distinct`, `Query.extra`, `Query.group_by` (None without one), and
  `Query.alias_map`, whose joins have a `join_field` that is the ForeignKey itself
  along a forward relation (`many_to_one`) and the reverse relation's object otherwise.
- `Query.get_compiler(connection=...).as_sql()` for a COUNT(*) subquery of a filtered list.
- `RawSQL(sql, params)` as an expression in values_list() and in filter().
"""
from django.db import connections
from django.db.models.expressions import RawSQL

from ..models import RowCount


def get_counted_table(queryset):
    """The table of `queryset`'s model if the queryset lists all of it and its rows are counted; else None."""
    model = queryset.model._meta.concrete_model
    if queryset.query.where or not lists_each_row_once(queryset) or model not in RowCount.counted_models:
        return None
    return model._meta.db_table


def lists_each_row_once(queryset):
    """Whether `queryset` gives each row of its table at most once: no join that multiplies
    rows (along a reverse or many-to-many relation, from a filter or an annotation), no
    GROUP BY, DISTINCT, extra() or union(). select_related() joins along forward keys."""
    query = queryset.query
    if query.combinator or query.distinct or query.extra or query.group_by is not None:
        return False
    joins = (getattr(join, "join_field", None) for join in query.alias_map.values())
    return all(field is None or field.many_to_one or field.one_to_one for field in joins)


def get_table_count_sql(connection, table):
    """`table`'s row count as an SQL expression, and its params."""
    opts = RowCount._meta
    quote = connection.ops.quote_name
    rows, key = quote(opts.get_field("rows").column), quote(opts.pk.column)
    counter = f"SELECT {rows} FROM {quote(opts.db_table)} WHERE {key} = %s"
    # COALESCE evaluates COUNT(*) only when the counter row is missing.
    return f"COALESCE(({counter}), (SELECT COUNT(*) FROM {quote(table)}))", [table]


def get_count_expression(queryset):
    """The number of `queryset`'s rows as an SQL expression: its table's counter when it
    lists a whole counted table, else COUNT(*) of its rows."""
    connection = connections[queryset.db]
    table = get_counted_table(queryset)
    if table is not None:
        return RawSQL(*get_table_count_sql(connection, table))
    sql, params = queryset.order_by().values("pk").query.get_compiler(connection=connection).as_sql()
    return RawSQL(f"(SELECT COUNT(*) FROM ({sql}) counted)", params)


def count_rows(queryset):
    """The number of `queryset`'s rows: its table's counter, or the ORM's count()."""
    table = get_counted_table(queryset)
    if table is None:
        return queryset.count()
    connection = connections[queryset.db]
    sql, params = get_table_count_sql(connection, table)
    # A raw cursor: through the ORM, compiling this one-row read costs more than running it.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", params)
        return cursor.fetchone()[0]

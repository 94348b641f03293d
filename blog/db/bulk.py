"""Bulk loads beside the ORM: rows written as plain tuples, tables emptied as `flush` does.

For a load of millions of rows, model instances and the ORM's per-value adapters and
converters cost more than the database's own work (figures in docs/performance.md).
These functions write a batch of tuples in one statement (COPY on PostgreSQL,
executemany elsewhere) with values already in the form the database stores, read rows
back raw, and apply what SQLite and PostgreSQL advise around a bulk load. The ORM still
decides every table and column name; the caller decides transactions (blog/seeding.py).

Relies on (check on each Django upgrade; tests/test_upgrade_canary.py fails if one changes):
- `CursorWrapper.cursor` (the driver's cursor) and, on PostgreSQL with psycopg 3,
  `Cursor.copy(sql)` as a context manager with `write_row()` (psycopg2 has no `copy` and
  gets executemany: slower, same rows). CursorWrapper hands `copy` through without
  translating its errors (it wraps only `WRAP_ERROR_ATTRS`), hence
  `connection.wrap_database_errors` as a context manager around it, so that psycopg's
  errors still reach callers as django.db's.
- `connection.timezone`: the zone SQLite's naive datetimes are stored in. The values of
  `epoch_seconds_adapter()` must stay those of `ops.adapt_datetimefield_value()`
  (`str()` of the naive datetime on SQLite, the aware datetime on PostgreSQL).
- On SQLite, the backend's `register_converter("datetime", ...)` and its connection's
  `detect_types=PARSE_DECLTYPES`, so that a raw cursor reads a DateTimeField as a naive
  datetime; on PostgreSQL, a raw cursor reading it as an aware datetime.
- `connection.ops.sql_flush(style, tables)` and `connection.ops.execute_sql_flush(sql_list)`:
  what `flush` runs (TRUNCATE on PostgreSQL, DELETE FROM on SQLite); on PostgreSQL,
  `connection.check_constraints()` running the pending deferred foreign key checks
  (SET CONSTRAINTS ALL IMMEDIATE, then DEFERRED again).
- `connection.in_atomic_block`, true inside transaction.atomic().
- On SQLite, the `cache_size` and `mmap_size` PRAGMAs, which hold for one connection:
  Django's connection for this thread must stay the same one for the whole load.
- Not Django's, but as binding: migration 0003's SQLite insert trigger, named
  `<table>_count_insert`, found in `sqlite_master`, and the upsert into RowCount that it
  runs for each row and `counted_once()` runs for a batch; SQLite rolling back a
  DROP TRIGGER and CREATE TRIGGER with the transaction they ran in.
"""
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from django.core.management.color import no_style
from django.db import connection

from ..models import RowCount

# SQLite connection settings while loading: see bulk_load_tuning().
BULK_LOAD_PRAGMAS = {"cache_size": -64 * 1024, "mmap_size": 0}
NAIVE_EPOCH = datetime(1970, 1, 1)


def epoch_seconds_adapter():
    """A function from epoch seconds to what this database stores for a DateTimeField.

    The values of the ORM's adapt_datetimefield_value(), with the time zone settled once
    instead of checked for every value: SQLite stores naive text in the connection's time
    zone (UTC unless DATABASES sets TIME_ZONE), PostgreSQL takes aware datetimes.
    """
    tz = connection.timezone
    if connection.vendor != "sqlite":
        return lambda seconds: datetime.fromtimestamp(seconds, tz)
    if tz == timezone.utc:
        # The same value as fromtimestamp(seconds, tz).replace(tzinfo=None), without
        # building an aware datetime for every row (figures in docs/performance.md).
        return lambda seconds: str(NAIVE_EPOCH + timedelta(seconds=seconds))
    return lambda seconds: str(datetime.fromtimestamp(seconds, tz).replace(tzinfo=None))


def epoch_seconds_converter():
    """A function from a DateTimeField value read with a raw cursor to epoch seconds."""
    tz = connection.timezone
    if connection.vendor != "sqlite":
        return datetime.timestamp
    if tz == timezone.utc:
        return lambda value: (value - NAIVE_EPOCH).total_seconds()
    return lambda value: value.replace(tzinfo=tz).timestamp()


def insert_rows(model, fields, rows):
    """Insert tuples of `fields` into `model`'s table in one statement, bypassing model instances."""
    opts = model._meta
    quote = connection.ops.quote_name
    table = quote(opts.db_table)
    columns = ", ".join(quote(opts.get_field(name).column) for name in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and hasattr(cursor.cursor, "copy"):  # psycopg 3
            with connection.wrap_database_errors, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)


def id_and_time_chunks(model, field, chunk_size):
    """Every row's id and DateTimeField `field` (epoch seconds), as two lists per id range, in id order."""
    opts = model._meta
    quote = connection.ops.quote_name
    pk, time_column = quote(opts.pk.column), quote(opts.get_field(field).column)
    select = f"SELECT {pk}, {time_column} FROM {quote(opts.db_table)}"
    # Raw rows: this reads the whole table, and through the ORM its converters would run
    # on every value (figures in docs/performance.md).
    to_seconds = epoch_seconds_converter()
    with connection.cursor() as cursor:
        cursor.execute(f"{select} ORDER BY {pk} LIMIT %s", [chunk_size])
        while rows := cursor.fetchall():
            yield (
                [row[0] for row in rows],
                [to_seconds(row[1]) for row in rows],
            )
            cursor.execute(f"{select} WHERE {pk} > %s ORDER BY {pk} LIMIT %s", [rows[-1][0], chunk_size])


def sqlite_count_trigger(model):
    """On SQLite, the name and SQL of the trigger that counts `model`'s inserts (migration 0003); else None."""
    if connection.vendor != "sqlite":
        return None
    name = f"{model._meta.db_table}_count_insert"
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [name])
        row = cursor.fetchone()
    return (name, row[0]) if row else None


@contextmanager
def counted_once(model, rows, trigger):
    """Without `trigger` (see sqlite_count_trigger()) in the block, then `rows` more rows counted at once.

    SQLite runs its triggers for every row, and the counter's upsert on every row of a
    bulk load makes seeding markedly slower (figures in docs/performance.md): one upsert
    for the whole batch counts the same rows. Dropped and created again inside the
    batch's transaction, so no other writer ever inserts without it, and a failed batch
    rolls the drop back with the rows.
    """
    if trigger is None:
        yield
        return
    assert connection.in_atomic_block, "counted_once() must run inside the batch's transaction"
    name, create_trigger = trigger
    opts = RowCount._meta
    quote = connection.ops.quote_name
    key, count = quote(opts.pk.column), quote(opts.get_field("rows").column)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER {quote(name)}")
        yield
        cursor.execute(
            f"INSERT INTO {quote(opts.db_table)} ({key}, {count}) VALUES (%s, %s) "
            f"ON CONFLICT ({key}) DO UPDATE SET {count} = {count} + excluded.{count}",
            [model._meta.db_table, rows],
        )
        cursor.execute(create_trigger)


@contextmanager
def bulk_load_tuning():
    """On SQLite, read through a larger page cache and not through mmap while loading.

    With SQLite's small default cache every insert into a large index rereads its pages;
    with mmap every page the load touches counts towards the process's memory, and the
    load was no faster for it (figures in docs/performance.md). Both are this
    connection's settings, restored afterwards.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        previous = {}
        for pragma, value in BULK_LOAD_PRAGMAS.items():
            cursor.execute(f"PRAGMA {pragma}")
            previous[pragma] = cursor.fetchone()[0]
            cursor.execute(f"PRAGMA {pragma} = {value}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for pragma, value in previous.items():
                cursor.execute(f"PRAGMA {pragma} = {int(value)}")


def vacuum_after_bulk_load(models):
    """On PostgreSQL, VACUUM (ANALYZE) `models`' tables, as its manual advises after a bulk load.

    ANALYZE tells the planner the tables' new size. VACUUM marks their pages all-visible:
    until then an index-only walk also reads every row's table page, and deep pages of
    freshly loaded tables are slow to find (figures in docs/performance.md). Autovacuum
    would get there, minutes later. Not inside a transaction, where VACUUM can't run.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in models)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {tables}")


def empty_tables(models):
    """Delete every row of `models`' tables as `flush` does, without loading one.

    TRUNCATE on PostgreSQL, DELETE FROM on SQLite; inside the caller's transaction, if any.
    """
    if connection.vendor == "postgresql":
        # TRUNCATE refuses to run while deferred foreign key checks are pending in the
        # transaction (rows written earlier in it, as in a test): run them now.
        connection.check_constraints()
    tables = [model._meta.db_table for model in models]
    connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables))

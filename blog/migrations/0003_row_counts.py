"""Exact row counts of blog_post and blog_comment, kept by triggers, for the lists' `count`.

Triggers, not application code, so that every writer keeps them: ORM saves, Django's
emulated cascades, seed_blog's executemany and COPY, raw SQL, `flush`.

`flush` empties the counter table and the counted tables in one go, in whatever order,
so a missing counter row means 0: insert triggers upsert the row, delete triggers only
update it (a row that is gone stays gone), and TRUNCATE sets it to 0. Flushed before
its table or after, the row ends absent or at 0.
"""
from django.db import migrations, models

COUNTED = ("Post", "Comment")


def counted_tables(apps):
    return [apps.get_model("blog", name)._meta.db_table for name in COUNTED]


def counter_names(apps, quote):
    """The counter table and its key and count columns, quoted."""
    opts = apps.get_model("blog", "RowCount")._meta
    return quote(opts.db_table), quote(opts.get_field("table").column), quote(opts.get_field("rows").column)


def trigger_name(table, event):
    return f"{table}_count_{event}"


def literal(text):
    return "'" + text.replace("'", "''") + "'"


def sqlite_triggers(table, counter, key, rows, quote):
    # SQLite has row-level triggers only; there is one writer at a time, so nothing races.
    yield (
        f"CREATE TRIGGER {quote(trigger_name(table, 'insert'))} AFTER INSERT ON {quote(table)} "
        f"BEGIN INSERT INTO {counter} ({key}, {rows}) VALUES ({literal(table)}, 1) "
        f"ON CONFLICT ({key}) DO UPDATE SET {rows} = {rows} + 1; END"
    )
    yield (
        f"CREATE TRIGGER {quote(trigger_name(table, 'delete'))} AFTER DELETE ON {quote(table)} "
        f"BEGIN UPDATE {counter} SET {rows} = {rows} - 1 WHERE {key} = {literal(table)}; END"
    )


def postgresql_functions(counter, key, rows):
    # Statement-level, over transition tables: a COPY of a batch of 10,000 rows updates
    # the counter once, not 10,000 times.
    #
    # Concurrent writers cannot lose counts: in READ COMMITTED an upsert or update that
    # finds the row locked waits for the other transaction and then adds to the row as
    # it committed it. The price is that creates in one table serialize on its counter
    # row for the rest of their transaction, which in this API is the one INSERT of a
    # create request: a fraction of a millisecond. Under REPEATABLE READ or SERIALIZABLE
    # the second writer would fail with a serialization error instead.
    yield (
        "CREATE FUNCTION blog_rowcount_add() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"INSERT INTO {counter} AS counter ({key}, {rows}) "
        "SELECT TG_TABLE_NAME::text, count(*) FROM inserted HAVING count(*) > 0 "
        f"ON CONFLICT ({key}) DO UPDATE SET {rows} = counter.{rows} + EXCLUDED.{rows}; "
        "RETURN NULL; END $$"
    )
    yield (
        "CREATE FUNCTION blog_rowcount_subtract() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"UPDATE {counter} SET {rows} = {rows} - gone.n "
        "FROM (SELECT count(*) AS n FROM deleted) AS gone "
        f"WHERE {key} = TG_TABLE_NAME::text AND gone.n > 0; "
        "RETURN NULL; END $$"
    )
    yield (
        "CREATE FUNCTION blog_rowcount_reset() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"UPDATE {counter} SET {rows} = 0 WHERE {key} = TG_TABLE_NAME::text; "
        "RETURN NULL; END $$"
    )


def postgresql_triggers(table, quote):
    yield (
        f"CREATE TRIGGER {quote(trigger_name(table, 'insert'))} AFTER INSERT ON {quote(table)} "
        "REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION blog_rowcount_add()"
    )
    yield (
        f"CREATE TRIGGER {quote(trigger_name(table, 'delete'))} AFTER DELETE ON {quote(table)} "
        "REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION blog_rowcount_subtract()"
    )
    yield (
        f"CREATE TRIGGER {quote(trigger_name(table, 'truncate'))} AFTER TRUNCATE ON {quote(table)} "
        "FOR EACH STATEMENT EXECUTE FUNCTION blog_rowcount_reset()"
    )


def install_triggers(apps, schema_editor):
    vendor, quote = schema_editor.connection.vendor, schema_editor.quote_name
    counter, key, rows = counter_names(apps, quote)
    if vendor == "postgresql":
        statements = list(postgresql_functions(counter, key, rows))
        for table in counted_tables(apps):
            statements += postgresql_triggers(table, quote)
    elif vendor == "sqlite":
        statements = []
        for table in counted_tables(apps):
            statements += sqlite_triggers(table, counter, key, rows, quote)
    else:
        raise NotImplementedError(f"Row count triggers exist for SQLite and PostgreSQL only, not {vendor}.")
    for statement in statements:
        schema_editor.execute(statement, params=None)
    # After the triggers, in the same transaction: on PostgreSQL CREATE TRIGGER locks
    # the table against writes until the commit, so no row escapes both the count and
    # the triggers.
    for table in counted_tables(apps):
        schema_editor.execute(
            f"INSERT INTO {counter} ({key}, {rows}) SELECT %s, COUNT(*) FROM {quote(table)}", [table]
        )


def drop_triggers(apps, schema_editor):
    vendor, quote = schema_editor.connection.vendor, schema_editor.quote_name
    events = ("insert", "delete", "truncate") if vendor == "postgresql" else ("insert", "delete")
    for table in counted_tables(apps):
        for event in events:
            on_table = f" ON {quote(table)}" if vendor == "postgresql" else ""
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {quote(trigger_name(table, event))}{on_table}", params=None)
    if vendor == "postgresql":
        for function in ("blog_rowcount_add", "blog_rowcount_subtract", "blog_rowcount_reset"):
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}()", params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("blog", "0002_cache_table"),
    ]

    operations = [
        migrations.CreateModel(
            name="RowCount",
            fields=[
                ("table", models.CharField(max_length=63, primary_key=True, serialize=False)),
                ("rows", models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(install_triggers, drop_triggers),
    ]

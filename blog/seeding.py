"""
Seed the database with login accounts, posts and comments, from ten rows to millions.

Plain functions; `manage.py seed_blog` is their command-line face. The choices below were
measured (benchmarks/seed.py), not guessed:

- Text is recombined from a pool of Faker sentences made once per run: Faker costs about
  7 µs a sentence, picking and joining pooled ones about 1 µs a body.
- Rows are plain tuples, one `executemany` per batch (`COPY` on PostgreSQL, twice as fast
  there). `bulk_create` cost about 100 µs a row against 8 µs, and its auto_now_add would
  overwrite the spread-out created_at anyway.
- Comments go on random posts picked in ascending order, so they are written in post order
  while the posts are read alongside, one id range at a time: no query per comment, no list
  of every post in memory, and the indexes and foreign key checks move through the tables
  in order instead of jumping around files larger than the cache.
- On SQLite, a 64 MB page cache and no mmap while seeding (see bulk_load_tuning()).

Every batch is its own transaction: an interruption leaves whole batches, never half of one.
"""
import os
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import islice
from math import exp, log

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, transaction
from faker import Faker

from .models import Comment, Post, RowCount

USERNAME_PREFIX = "seed_user_"
# Documented in the README as local-only: anyone who reads it can log in with it.
DEFAULT_PASSWORD = "seed-password-local-only"
PASSWORD_ENV_VAR = "BLOG_SEED_PASSWORD"
DEFAULT_BATCH_SIZE = 10_000
# Posts are spread over this period up to now. Comments follow their post after a delay
# drawn from an exponential distribution of this mean (cut off at now): most come soon.
SPREAD = timedelta(days=365)
COMMENT_DELAY = timedelta(days=3)
NAIVE_EPOCH = datetime(1970, 1, 1)
# SQLite connection settings while seeding: see bulk_load_tuning().
BULK_LOAD_PRAGMAS = {"cache_size": -64 * 1024, "mmap_size": 0}

TITLE_POOL_SIZE = 10_000
SENTENCE_POOL_SIZE = 5_000
POST_SENTENCES = (2, 6)
COMMENT_SENTENCES = (1, 3)

POST_FIELDS = ("title", "body", "user", "created_at")
COMMENT_FIELDS = ("post", "body", "user", "created_at")


def seed_username(n):
    return f"{USERNAME_PREFIX}{n}"


def seeded_users():
    """The accounts seed_blog creates (seed_user_<n>), and nobody else."""
    return get_user_model().objects.filter(username__regex=rf"^{USERNAME_PREFIX}[0-9]+$")


def seed_password(password=None):
    """The seeded users' password: the one given, else $BLOG_SEED_PASSWORD, else the default."""
    return password or os.environ.get(PASSWORD_ENV_VAR) or DEFAULT_PASSWORD


@dataclass(frozen=True)
class TextPool:
    """Faker titles and sentences that posts and comments are recombined from."""

    titles: list
    sentences: list

    @classmethod
    def generate(cls, rng, titles=TITLE_POOL_SIZE, sentences=SENTENCE_POOL_SIZE):
        fake = Faker("en_US")
        fake.seed_instance(rng.getrandbits(64))
        return cls(
            titles=[fake.sentence(nb_words=6).rstrip(".") for _ in range(titles)],
            sentences=[fake.sentence(nb_words=8) for _ in range(sentences)],
        )

    def pickers(self, rng):
        """(title(), text(low, high)): a random title, and low to high random sentences joined.

        Built on rng.random() and indexing: rng.choice(), choices() and randint() cost
        several times more, and this runs for every row.
        """
        random_, titles, sentences = rng.random, self.titles, self.sentences
        n_titles, n_sentences = len(titles), len(sentences)

        def title():
            return titles[int(random_() * n_titles)]

        def text(low, high):
            count = low + int(random_() * (high - low + 1))
            return " ".join([sentences[int(random_() * n_sentences)] for _ in range(count)])

        return title, text


@dataclass(frozen=True)
class Progress:
    """How far a phase ("posts" or "comments") has got."""

    phase: str
    done: int
    total: int
    seconds: float

    @property
    def rate(self):
        return self.done / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Seeded:
    """What a seed() run wrote."""

    users: int
    users_created: int
    posts: int
    comments: int


def ensure_users(count, password):
    """Make seed_user_1 … seed_user_<count> exist; return (their ids in that order, number created).

    Existing seed users are reused, and every seed user gets `password`, so that after a run
    they all log in with the same one. It is hashed once and the hash shared: a PBKDF2 of a
    million iterations per account would dominate the run.
    """
    User = get_user_model()
    usernames = [seed_username(n) for n in range(1, count + 1)]
    password_hash = make_password(password)
    with transaction.atomic():
        seeded_users().update(password=password_hash)
        existing = set(seeded_users().values_list("username", flat=True))
        missing = [User(username=name, password=password_hash) for name in usernames if name not in existing]
        User.objects.bulk_create(missing, batch_size=DEFAULT_BATCH_SIZE)
    ids = dict(seeded_users().values_list("username", "pk"))
    return [ids[name] for name in usernames], len(missing)


def datetime_to_db():
    """A function from epoch seconds to what this database stores for a DateTimeField.

    The values of the ORM's adapt_datetimefield_value(), with the time zone settled once
    instead of checked for every value: SQLite stores naive text in the connection's time
    zone (UTC unless DATABASES sets TIME_ZONE), PostgreSQL takes aware datetimes.
    """
    tz = connection.timezone
    if connection.vendor != "sqlite":
        return lambda seconds: datetime.fromtimestamp(seconds, tz)
    if tz == timezone.utc:
        # Twice as fast as fromtimestamp(seconds, tz).replace(tzinfo=None), same value.
        return lambda seconds: str(NAIVE_EPOCH + timedelta(seconds=seconds))
    return lambda seconds: str(datetime.fromtimestamp(seconds, tz).replace(tzinfo=None))


def datetime_from_db():
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

    SQLite runs its triggers for every row: measured with benchmarks/seed.py at a million
    posts and comments, the counting trigger made seeding a third slower (34-39 s against
    50-59 s). Dropped and created again inside the batch's transaction, so no other writer
    ever inserts without it, and a failed batch rolls the drop back with the rows.
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


def write_batches(model, fields, batches, total, phase, progress=None):
    """Insert each batch in its own transaction; return the number of rows written."""
    started = time.monotonic()
    done = 0
    trigger = sqlite_count_trigger(model)
    for rows in batches:
        with transaction.atomic(), counted_once(model, len(rows), trigger):
            insert_rows(model, fields, rows)
        done += len(rows)
        if progress:
            progress(Progress(phase, done, total, time.monotonic() - started))
    return done


@contextmanager
def bulk_load_tuning():
    """On SQLite, read through a 64 MB page cache and not through mmap while seeding.

    Measured at a million rows (benchmarks/seed.py): with SQLite's 2 MB default cache every
    insert into a large index rereads its pages, and with mmap every page touched counts
    towards the process's memory (over 400 MB) and the run was slower, not faster. Both are
    this connection's settings, restored afterwards.
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


def post_batches(count, user_ids, pool, rng, batch_size, start, end):
    """Batches of (title, body, user id, created_at) rows, created_at rising from start to end."""
    to_db = datetime_to_db()
    title, text = pool.pickers(rng)
    random_, n_users = rng.random, len(user_ids)
    step = (end - start) / max(count, 1)
    for first in range(0, count, batch_size):
        yield [
            (
                title(),
                text(*POST_SENTENCES),
                user_ids[int(random_() * n_users)],
                to_db(start + (i + random_()) * step),
            )
            for i in range(first, min(first + batch_size, count))
        ]


def ascending_picks(count, population, rng):
    """`count` independent uniform picks from range(population), generated in ascending order.

    The largest of n uniforms in [0, 1) is distributed as U ** (1/n); the next largest is
    that times the largest of n - 1, and so on. This yields the picks sorted, one at a time,
    without holding them all.
    """
    random_ = rng.random
    top = 1.0
    for remaining in range(count, 0, -1):
        top *= random_() ** (1.0 / remaining)
        yield min(int((1.0 - top) * population), population - 1)


def post_chunks(chunk_size):
    """Every post's id and created_at (epoch seconds), as two lists per id range, in id order."""
    opts = Post._meta
    quote = connection.ops.quote_name
    pk, created_at = quote(opts.pk.column), quote(opts.get_field("created_at").column)
    select = f"SELECT {pk}, {created_at} FROM {quote(opts.db_table)}"
    # Raw rows: the ORM's per-value converters would double the cost of this read.
    to_seconds = datetime_from_db()
    with connection.cursor() as cursor:
        cursor.execute(f"{select} ORDER BY {pk} LIMIT %s", [chunk_size])
        while rows := cursor.fetchall():
            yield (
                [row[0] for row in rows],
                [to_seconds(row[1]) for row in rows],
            )
            cursor.execute(f"{select} WHERE {pk} > %s ORDER BY {pk} LIMIT %s", [rows[-1][0], chunk_size])


def comment_batches(count, user_ids, pool, rng, batch_size, end):
    """Batches of (post id, body, user id, created_at) rows on random posts, each after its post.

    Comments come in the order of their posts, and most within days of them, so that they
    are also written roughly in created_at order: each of the comment table's indexes is
    then filled near one end, not all over (measured: about 1.5 times faster than delays
    spread evenly from the post to now, at a million rows).
    """
    to_db = datetime_to_db()
    _, text = pool.pickers(rng)
    random_, n_users = rng.random, len(user_ids)
    mean_delay = COMMENT_DELAY.total_seconds()
    chunks = post_chunks(batch_size)
    post_ids, post_times = next(chunks)
    offset = 0  # the position of post_ids[0] among all posts
    picks = ascending_picks(count, Post.objects.count(), rng)
    for _ in range(0, count, batch_size):
        rows = []
        for pick in islice(picks, batch_size):
            while pick - offset >= len(post_ids):
                chunk = next(chunks, None)
                if chunk is None:
                    # Posts deleted meanwhile: the walk ends early and the rest go on the last post.
                    pick = offset + len(post_ids) - 1
                    break
                offset += len(post_ids)
                post_ids, post_times = chunk
            post_time = post_times[pick - offset]
            # A second after the post plus an exponential delay, cut off at now (unless the
            # post is less than a second old): inverse transform sampling.
            span = max(end - post_time - 1, 0)
            delay = -mean_delay * log(1 - random_() * (1 - exp(-span / mean_delay)))
            rows.append((
                post_ids[pick - offset],
                text(*COMMENT_SENTENCES),
                user_ids[int(random_() * n_users)],
                to_db(post_time + 1 + delay),
            ))
        yield rows


def seed(*, users, posts, comments, password, seed=None, batch_size=DEFAULT_BATCH_SIZE, progress=None):
    """Create `users` seed users (or reuse them), then `posts` posts and `comments` comments."""
    if comments and not posts and not Post.objects.exists():
        raise ValueError("Comments need posts to go on: seed posts too, or first.")
    if (posts or comments) and not users:
        raise ValueError("Posts and comments need authors: seed at least one user.")
    rng = random.Random(seed)
    pool = TextPool.generate(rng)
    user_ids, users_created = ensure_users(users, password) if users else ([], 0)
    end = time.time()
    start = end - SPREAD.total_seconds()
    with bulk_load_tuning():
        if posts:
            batches = post_batches(posts, user_ids, pool, rng, batch_size, start, end)
            write_batches(Post, POST_FIELDS, batches, posts, "posts", progress)
        if comments:
            batches = comment_batches(comments, user_ids, pool, rng, batch_size, end)
            write_batches(Comment, COMMENT_FIELDS, batches, comments, "comments", progress)
    if posts or comments:
        vacuum_after_bulk_load()
    return Seeded(users=users, users_created=users_created, posts=posts, comments=comments)


def vacuum_after_bulk_load():
    """On PostgreSQL, VACUUM (ANALYZE) the loaded tables, as its manual advises after a bulk load.

    ANALYZE tells the planner the tables' new size. VACUUM marks their pages all-visible:
    until then an index-only walk also reads every row's table page, and the page at offset
    900,000 of a million freshly loaded posts took 480 ms instead of a few tens (make bench).
    Autovacuum would get there, minutes later. Not inside a transaction, where VACUUM can't run.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in (Post, Comment))
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {tables}")


def clear():
    """Delete every post and comment, then the seeded users; return how many of each went."""
    counts = {"posts": Post.objects.count(), "comments": Comment.objects.count()}
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # TRUNCATE refuses to run while deferred foreign key checks are pending in the
            # transaction (rows written earlier in it, as in a test): run them now.
            connection.check_constraints()
        # What `flush` runs: TRUNCATE on PostgreSQL, DELETE FROM on SQLite. No row is loaded.
        tables = [Comment._meta.db_table, Post._meta.db_table]
        connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables))
        _, deleted = seeded_users().delete()
    counts["users"] = deleted.get(get_user_model()._meta.label, 0)
    return counts

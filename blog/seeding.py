"""
Seed the database with login accounts, posts and comments, from ten rows to millions.

Plain functions; `manage.py seed_blog` is their command-line face, and blog/db/bulk.py
writes their rows beside the ORM. The choices below were measured with benchmarks/seed.py,
not guessed (figures in docs/performance.md):

- Text is recombined from a pool of Faker sentences made once per run: picking and
  joining pooled sentences costs far less than having Faker make new ones for every row.
- Rows are plain tuples, one `executemany` per batch (`COPY` on PostgreSQL, faster still
  there). `bulk_create` builds a model instance for every row and prepares each value, which
  costs more than the insert itself, and its auto_now_add would overwrite the spread-out
  created_at anyway.
- Comments go on random posts picked in ascending order, so they are written in post order
  while the posts are read alongside, one id range at a time: no query per comment, no list
  of every post in memory, and the indexes and foreign key checks move through the tables
  in order instead of jumping around files larger than the cache.
- On SQLite, a larger page cache and no mmap while seeding (see bulk_load_tuning()).

Every batch is its own transaction: an interruption leaves whole batches, never half of one.
"""
import os
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice
from math import exp, log

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from faker import Faker

from .db.bulk import (
    bulk_load_tuning,
    counted_once,
    empty_tables,
    epoch_seconds_adapter,
    id_and_time_chunks,
    insert_rows,
    sqlite_count_trigger,
    vacuum_after_bulk_load,
)
from .models import Comment, Post

USERNAME_PREFIX = "seed_user_"
# Documented in the README as local-only: anyone who reads it can log in with it.
DEFAULT_PASSWORD = "seed-password-local-only"
PASSWORD_ENV_VAR = "BLOG_SEED_PASSWORD"
DEFAULT_BATCH_SIZE = 10_000
# Posts are spread over this period up to now. Comments follow their post after a delay
# drawn from an exponential distribution of this mean (cut off at now): most come soon.
SPREAD = timedelta(days=365)
COMMENT_DELAY = timedelta(days=3)

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

        Built on rng.random() and indexing rather than rng.choice(), choices() or randint(),
        which do more work a call: this runs for every row (figures in docs/performance.md).
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
    they all log in with the same one. It is hashed once and the hash shared: password
    hashing is slow by design, and once per account it would dominate the run.
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


def post_batches(count, user_ids, pool, rng, batch_size, start, end):
    """Batches of (title, body, user id, created_at) rows, created_at rising from start to end."""
    to_db = epoch_seconds_adapter()
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


def comment_batches(count, user_ids, pool, rng, batch_size, end):
    """Batches of (post id, body, user id, created_at) rows on random posts, each after its post.

    Comments come in the order of their posts, and most within days of them, so that they
    are also written roughly in created_at order: each of the comment table's indexes is
    then filled near one end, where its pages stay in the cache, not all over (figures in
    docs/performance.md).
    """
    to_db = epoch_seconds_adapter()
    _, text = pool.pickers(rng)
    random_, n_users = rng.random, len(user_ids)
    mean_delay = COMMENT_DELAY.total_seconds()
    chunks = id_and_time_chunks(Post, "created_at", batch_size)
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
        vacuum_after_bulk_load((Post, Comment))
    return Seeded(users=users, users_created=users_created, posts=posts, comments=comments)


def clear():
    """Delete every post and comment, then the seeded users; return how many of each went."""
    counts = {"posts": Post.objects.count(), "comments": Comment.objects.count()}
    with transaction.atomic():
        empty_tables((Comment, Post))
        _, deleted = seeded_users().delete()
    counts["users"] = deleted.get(get_user_model()._meta.label, 0)
    return counts

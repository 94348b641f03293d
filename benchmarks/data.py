"""Ready a benchmark database: migrate, seed it to exactly N posts, and name the rows to request.

    DJANGO_SETTINGS_MODULE=benchmarks.settings DATABASE_URL=... python -m benchmarks.data prepare 5000
    ... python -m benchmarks.data cleanup      # delete what the create-post run wrote

Prints one JSON object: the writer's token and the ids the read endpoints are asked for.
Both delete posts (prepare may empty the database and seed it again), so both refuse a
database whose name does not say it is a benchmark's.
"""
import json
import sys
from pathlib import Path

import django

WRITER = "bench_writer"


def is_benchmark_database(vendor, name):
    """Whether a database is plainly a benchmark's: the SQLite file's or the database's name says "bench"."""
    return "bench" in (Path(name).name if vendor == "sqlite" else name)


def refuse_unless_benchmark_database():
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if not is_benchmark_database(connection.vendor, name):
        sys.exit(f"Refusing to delete posts from {name!r}: its name does not say it is a benchmark database. "
                 "Set DATABASE_URL to a SQLite file or a PostgreSQL database whose name contains 'bench', "
                 "as benchmarks.run does (sqlite:///benchmarks/.data/bench-5000.sqlite3, "
                 "postgres://postgres@127.0.0.1:5432/blog_bench5k).")


def seeded_posts():
    from blog.models import Post

    return Post.objects.exclude(user__username=WRITER)


def seed(posts):
    from django.core.management import call_command

    call_command("seed_blog", posts=posts, comments=posts, users=max(10, min(1000, posts // 1000)),
                 seed=1, clear=True, interactive=False, verbosity=0)


def prepare(posts):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from blog.models import Comment

    refuse_unless_benchmark_database()
    call_command("migrate", verbosity=0, interactive=False)
    cleanup()
    if seeded_posts().count() != posts:
        seed(posts)
    writer, _ = get_user_model().objects.get_or_create(username=WRITER)
    token, _ = Token.objects.get_or_create(user=writer)
    newest_comment = Comment.objects.values("id", "post_id").first()
    return {
        "token": token.key,
        "post_id": seeded_posts().order_by("-created_at", "-id").values_list("id", flat=True).first(),
        "comment_id": newest_comment["id"],
        "commented_post_id": newest_comment["post_id"],
    }


def cleanup():
    from django.db import connection

    from blog.models import Comment, Post

    refuse_unless_benchmark_database()
    Post.objects.filter(user__username=WRITER).delete()
    if connection.vendor == "postgresql":
        # The create-post runs leave dead rows and pages no longer marked all-visible,
        # which autovacuum gets to only after 20% of the table changed; until then an
        # index-only walk visits the heap too, and a deep page is measurably slower
        # (docs/performance.md). Vacuum, so that every run starts from the same table.
        with connection.cursor() as cursor:
            for model in (Post, Comment):
                cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


if __name__ == "__main__":
    django.setup()
    if sys.argv[1] == "prepare":
        print(json.dumps(prepare(int(sys.argv[2]))))
    else:
        cleanup()

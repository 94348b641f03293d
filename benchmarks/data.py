"""Ready a benchmark database: migrate, seed it to exactly N posts, and name the rows to request.

    DJANGO_SETTINGS_MODULE=benchmarks.settings DATABASE_URL=... python -m benchmarks.data prepare 5000
    ... python -m benchmarks.data cleanup      # delete what the create-post run wrote

Prints one JSON object: the writer's token and the ids the read endpoints are asked for.
"""
import json
import sys

import django

WRITER = "bench_writer"


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

    Post.objects.filter(user__username=WRITER).delete()
    if connection.vendor == "postgresql":
        # The create-post runs leave dead rows and pages no longer marked all-visible,
        # which autovacuum gets to only after 20% of the table changed; until then an
        # index-only walk visits the heap too (a deep page at 1,000,000 posts: 60 ms
        # instead of 35). Vacuum, so that every run starts from the same table.
        with connection.cursor() as cursor:
            for model in (Post, Comment):
                cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


if __name__ == "__main__":
    django.setup()
    if sys.argv[1] == "prepare":
        print(json.dumps(prepare(int(sys.argv[2]))))
    else:
        cleanup()

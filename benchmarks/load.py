"""A quick bulk loader for benchmark data, used where `manage.py seed_blog` is not available.

    DJANGO_SETTINGS_MODULE=benchmarks.settings DATABASE_URL=... python -m benchmarks.load 5000
"""
import random
import sys
from contextlib import contextmanager
from datetime import timedelta

import django

WORDS = (
    "django locust load test query index page cursor offset count serializer view "
    "worker latency throughput request response database postgres sqlite cache token "
    "comment post author list detail create join order scan row column plan time"
).split()


@contextmanager
def explicit_created_at(*models):
    # auto_now_add would stamp every row with the load time; spread them over a year instead.
    fields = [model._meta.get_field("created_at") for model in models]
    for field in fields:
        field.auto_now_add = False
    try:
        yield
    finally:
        for field in fields:
            field.auto_now_add = True


def sentence(rng, low, high):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize() + "."


def load(posts, comments_per_post=1, users=None, batch=2000, seed=1):
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from blog.models import Comment, Post

    User = get_user_model()
    rng = random.Random(seed)
    users = users or max(10, min(1000, posts // 1000))
    start = timezone.now() - timedelta(days=365)
    step = timedelta(days=365) / max(posts, 1)
    with transaction.atomic():
        Comment.objects.all().delete()
        Post.objects.all().delete()
        User.objects.filter(username__startswith="bench_user_").delete()
        User.objects.bulk_create(
            User(username=f"bench_user_{n}", password="!") for n in range(users)
        )
    user_ids = list(User.objects.filter(username__startswith="bench_user_").values_list("id", flat=True))
    with explicit_created_at(Post, Comment):
        for first in range(0, posts, batch):
            with transaction.atomic():
                made = Post.objects.bulk_create(
                    Post(
                        title=sentence(rng, 4, 12)[:500],
                        body=" ".join(sentence(rng, 8, 20) for _ in range(rng.randint(3, 8))),
                        user_id=rng.choice(user_ids),
                        # Two posts in a row share a timestamp now and then, so ties on
                        # created_at (broken by id) are exercised.
                        created_at=start + step * (n - n % 2 * (n % 7 == 1)),
                    )
                    for n in range(first, min(first + batch, posts))
                )
                if comments_per_post:
                    Comment.objects.bulk_create(
                        Comment(
                            post_id=post.pk,
                            body=sentence(rng, 5, 30),
                            user_id=rng.choice(user_ids),
                            created_at=post.created_at + timedelta(minutes=k + 1),
                        )
                        for post in made
                        for k in range(comments_per_post)
                    )
            print(f"\rloaded {min(first + batch, posts):,} / {posts:,} posts", end="", file=sys.stderr)
    print(file=sys.stderr)


if __name__ == "__main__":
    django.setup()
    load(int(sys.argv[1]))

import random
from datetime import datetime, timedelta, timezone as dt_timezone
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from blog import seeding
from blog.db import bulk
from blog.models import Comment, Post

User = get_user_model()


@pytest.fixture
def seed_blog(db, fast_password_hashing):
    """Run the command, small unless told otherwise; return what it printed."""

    def seed_blog(**options):
        options = {"users": 3, "posts": 40, "comments": 60, "interactive": False, **options}
        out = StringIO()
        call_command("seed_blog", stdout=out, **options)
        return out.getvalue()

    return seed_blog


def seeded_usernames():
    return sorted(seeding.seeded_users().values_list("username", flat=True))


def counts():
    return {"users": User.objects.count(), "posts": Post.objects.count(), "comments": Comment.objects.count()}


def content():
    """Everything --seed pins down; ids and timestamps left out, since those may move."""
    posts = list(Post.objects.order_by("pk").values_list("pk", "title", "body", "user__username"))
    position = {pk: n for n, (pk, *_) in enumerate(posts)}
    comments = Comment.objects.order_by("pk").values_list("post_id", "body", "user__username")
    return [post[1:] for post in posts], [(position[post_id], body, author) for post_id, body, author in comments]


def login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password}, format="json")


# --- What it creates ----------------------------------------------------------


def test_seed_blog_creates_the_users_posts_and_comments_asked_for(seed_blog):
    output = seed_blog(users=4, posts=50, comments=70)

    assert seeded_usernames() == ["seed_user_1", "seed_user_2", "seed_user_3", "seed_user_4"]
    assert counts() == {"users": 4, "posts": 50, "comments": 70}
    assert "Seeded 4 users, 50 posts and 70 comments in " in output


def test_seed_blog_defaults_to_10_users_5000_posts_and_5000_comments(db, fast_password_hashing):
    call_command("seed_blog", stdout=StringIO())

    assert counts() == {"users": 10, "posts": 5000, "comments": 5000}


def test_running_twice_reuses_the_users_and_adds_posts_and_comments(seed_blog):
    seed_blog(users=3, posts=40, comments=60)
    first_ids = set(seeding.seeded_users().values_list("pk", flat=True))

    output = seed_blog(users=5, posts=40, comments=60)

    assert seeded_usernames() == [f"seed_user_{n}" for n in range(1, 6)]
    assert first_ids < set(seeding.seeded_users().values_list("pk", flat=True))
    assert counts() == {"users": 5, "posts": 80, "comments": 120}
    assert "(2 new)" in output


def test_posts_and_comments_are_spread_over_the_seeded_users(seed_blog):
    seed_blog(users=3, posts=300, comments=300)

    for model in (Post, Comment):
        authors = set(model.objects.values_list("user__username", flat=True))
        assert authors == {"seed_user_1", "seed_user_2", "seed_user_3"}


def test_text_varies_from_row_to_row(seed_blog):
    seed_blog(posts=2000, comments=2000)

    assert Post.objects.values("body").distinct().count() > 1900
    assert Post.objects.values("title").distinct().count() > 1500
    assert Comment.objects.values("body").distinct().count() > 1500
    assert not Post.objects.filter(title="").exists()


def test_posts_are_spread_over_the_past_year(seed_blog):
    seed_blog(posts=1000, comments=0)
    now = timezone.now()

    newest = Post.objects.order_by("-created_at").values_list("created_at", flat=True)[0]
    oldest = Post.objects.order_by("created_at").values_list("created_at", flat=True)[0]
    assert now - timedelta(days=2) < newest <= now
    assert now - timedelta(days=366) < oldest < now - timedelta(days=363)
    in_last_month = Post.objects.filter(created_at__gt=now - timedelta(days=30)).count()
    assert 40 < in_last_month < 130  # about a twelfth


def test_comments_are_on_existing_posts_and_after_them(seed_blog):
    seed_blog(posts=100, comments=500)

    assert Comment.objects.filter(post__isnull=True).count() == 0
    assert set(Comment.objects.values_list("post_id", flat=True)) <= set(Post.objects.values_list("pk", flat=True))
    assert not Comment.objects.filter(created_at__lte=F("post__created_at")).exists()
    assert not Comment.objects.filter(created_at__gt=timezone.now()).exists()


def test_comments_mostly_come_within_days_of_their_post(seed_blog):
    seed_blog(posts=500, comments=1000, seed=1)

    delays = sorted(comment - post for comment, post in Comment.objects.values_list("created_at", "post__created_at"))
    # Exponential delays of mean 3 days: the median is about 2 days.
    assert timedelta(days=1) < delays[len(delays) // 2] < timedelta(days=3)


def test_comments_are_spread_over_the_posts(seed_blog):
    seed_blog(posts=100, comments=2000, seed=1)

    per_post = list(Post.objects.annotate(n=Count("comments")).values_list("n", flat=True))
    # 2,000 random picks among 100 posts: about 20 each, give or take 4.5.
    assert min(per_post) > 0
    assert max(per_post) < 45


def test_comments_alone_go_on_posts_already_there(seed_blog, make_post):
    existing = [make_post(title=f"Existing {n}") for n in range(3)]

    seed_blog(posts=0, comments=30)

    assert counts()["comments"] == 30
    assert set(Comment.objects.values_list("post_id", flat=True)) <= {post.pk for post in existing}


def test_a_batch_size_smaller_than_the_counts_writes_them_all(seed_blog):
    seed_blog(posts=95, comments=101, batch_size=7)

    assert counts() == {"users": 3, "posts": 95, "comments": 101}


# --- Reproducibility ----------------------------------------------------------


def test_the_same_seed_on_an_empty_database_gives_the_same_content(seed_blog):
    seed_blog(posts=60, comments=90, seed=42)
    first = content()

    seed_blog(posts=60, comments=90, seed=42, clear=True)

    assert content() == first
    assert len(first[0]) == 60 and len(first[1]) == 90


def test_the_same_seed_gives_the_same_content_whatever_the_batch_size(seed_blog):
    seed_blog(posts=60, comments=90, seed=7, batch_size=1000)
    first = content()

    seed_blog(posts=60, comments=90, seed=7, batch_size=8, clear=True)

    assert content() == first


def test_another_seed_gives_other_content(seed_blog):
    seed_blog(posts=60, comments=90, seed=1)
    first = content()

    seed_blog(posts=60, comments=90, seed=2, clear=True)

    assert content()[0] != first[0]
    assert content()[1] != first[1]


# --- Logging in ---------------------------------------------------------------


def test_seeded_users_log_in_with_the_default_password(db, api_client):
    # Real PBKDF2 here, as in production: the hash seed_blog stores must be one Django checks.
    call_command("seed_blog", users=2, posts=0, comments=0, stdout=StringIO())

    response = login(api_client, "seed_user_2", "seed-password-local-only")

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user__username="seed_user_2").key}


def test_seeded_users_log_in_with_the_password_option(seed_blog, api_client):
    seed_blog(users=2, password="open-sesame-123")

    assert login(api_client, "seed_user_1", "open-sesame-123").status_code == 200
    assert login(api_client, "seed_user_1", "seed-password-local-only").status_code == 400


def test_seeded_users_log_in_with_the_password_from_the_environment(seed_blog, api_client, monkeypatch):
    monkeypatch.setenv("BLOG_SEED_PASSWORD", "from-the-env-456")
    output = seed_blog(users=2)

    assert login(api_client, "seed_user_2", "from-the-env-456").status_code == 200
    assert "$BLOG_SEED_PASSWORD" in output and "from-the-env-456" not in output


def test_the_password_option_wins_over_the_environment(seed_blog, api_client, monkeypatch):
    monkeypatch.setenv("BLOG_SEED_PASSWORD", "from-the-env-456")
    seed_blog(users=1, password="open-sesame-123")

    assert login(api_client, "seed_user_1", "open-sesame-123").status_code == 200


def test_every_seed_user_gets_the_latest_password_from_one_hash(seed_blog, api_client):
    seed_blog(users=3, password="first-password-1")
    seed_blog(users=2, password="second-password-2")

    assert login(api_client, "seed_user_3", "second-password-2").status_code == 200
    assert seeding.seeded_users().values("password").distinct().count() == 1


# --- Bad options --------------------------------------------------------------


@pytest.mark.parametrize(
    "options, message",
    [
        ({"users": -1}, "--users must be >= 0."),
        ({"posts": -1}, "--posts must be >= 0."),
        ({"comments": -5}, "--comments must be >= 0."),
        ({"batch_size": 0}, "--batch-size must be >= 1."),
        ({"users": 0}, "Posts and comments need authors: pass --users 1 or more."),
        ({"posts": 0}, "There are no posts to attach comments to: pass --posts 1 or more."),
        ({"password": ""}, "--password must not be empty; leave it out to use the default."),
        ({"clear": True, "if_empty": True}, "--clear and --if-empty contradict each other: pass one of them."),
    ],
)
def test_bad_options_are_a_command_error_before_anything_is_written(seed_blog, user, options, message):
    with pytest.raises(CommandError) as error:
        seed_blog(**options)

    assert str(error.value) == message
    assert counts() == {"users": 1, "posts": 0, "comments": 0}


def test_clear_with_comments_and_no_posts_is_an_error_even_if_posts_exist(seed_blog, make_post):
    make_post()

    with pytest.raises(CommandError, match="no posts to attach comments to"):
        seed_blog(posts=0, comments=10, clear=True)

    assert counts()["posts"] == 1


# --- --clear and --if-empty ---------------------------------------------------


def test_clear_with_noinput_removes_posts_comments_and_seed_users_only(seed_blog, make_user, make_comment):
    make_comment()  # alice's post and comment
    make_user(username="seed_user_admin")  # not seed_user_<n>
    seed_blog(users=3, posts=40, comments=60)

    output = seed_blog(users=2, posts=5, comments=6, clear=True)

    assert "Cleared 41 posts, 61 comments and 3 seed users." in output
    assert counts() == {"users": 4, "posts": 5, "comments": 6}
    assert set(User.objects.values_list("username", flat=True)) == {
        "alice", "seed_user_admin", "seed_user_1", "seed_user_2"
    }


def test_clear_asks_and_a_no_changes_nothing(seed_blog, monkeypatch):
    seed_blog()
    before = counts()
    questions = []
    monkeypatch.setattr("builtins.input", lambda question: questions.append(question) or "no")

    output = seed_blog(clear=True, interactive=True)

    assert "IRREVERSIBLY DELETE every post and comment" in questions[0]
    assert output == "Seeding cancelled.\n"
    assert counts() == before


def test_clear_asks_and_a_yes_clears_then_seeds(seed_blog, monkeypatch):
    seed_blog()
    monkeypatch.setattr("builtins.input", lambda question: "yes")

    seed_blog(posts=7, comments=8, clear=True, interactive=True)

    assert counts() == {"users": 3, "posts": 7, "comments": 8}


def test_if_empty_seeds_an_empty_database(seed_blog):
    seed_blog(if_empty=True)

    assert counts() == {"users": 3, "posts": 40, "comments": 60}


def test_if_empty_leaves_a_database_with_posts_alone(seed_blog):
    seed_blog()

    output = seed_blog(if_empty=True, users=5)

    assert counts() == {"users": 3, "posts": 40, "comments": 60}
    assert "nothing seeded (--if-empty)" in output
    assert "seed_user_1" in output


# --- Failures, output, queries ------------------------------------------------


def test_a_failure_midway_leaves_whole_batches_only(seed_blog, monkeypatch):
    insert_rows = seeding.insert_rows
    calls = []

    def fail_on_third_batch(model, fields, rows):
        calls.append(model)
        if len(calls) == 3:
            # Half the batch written, then the failure.
            insert_rows(model, fields, rows[: len(rows) // 2])
            raise RuntimeError("disk full")
        insert_rows(model, fields, rows)

    monkeypatch.setattr(seeding, "insert_rows", fail_on_third_batch)

    with pytest.raises(RuntimeError, match="disk full"):
        seed_blog(posts=50, comments=0, batch_size=10)

    assert counts()["posts"] == 20


def test_output_has_a_line_per_phase_and_a_summary(seed_blog):
    lines = seed_blog(users=2, posts=30, comments=40).splitlines()

    assert lines[0].startswith("Posts: 30 rows in ") and lines[0].endswith(" rows/s).")
    assert lines[1].startswith("Comments: 40 rows in ")
    assert lines[2] == 'Log in as seed_user_1 … seed_user_2 (2 new) with password "seed-password-local-only".'
    assert lines[3].startswith("Seeded 2 users, 30 posts and 40 comments in ") and lines[3].endswith(" s.")


def test_verbosity_2_reports_every_batch(seed_blog):
    output = seed_blog(posts=30, comments=0, batch_size=10, verbosity=2)

    assert "Posts: 10 of 30 rows" in output and "Posts: 20 of 30 rows" in output


def test_verbosity_0_prints_nothing(seed_blog):
    assert seed_blog(verbosity=0) == ""


@pytest.mark.parametrize("rows", [200, 800])
def test_queries_grow_with_batches_not_rows(seed_blog, django_assert_max_num_queries, rows):
    batch_size = 100
    batches = 2 * rows // batch_size
    # Per batch: a savepoint, the insert, its release, and for comments a read of posts;
    # on SQLite also the counting trigger dropped and created again, and the batch counted.
    with django_assert_max_num_queries(20 + 7 * batches):
        seed_blog(users=5, posts=rows, comments=rows, batch_size=batch_size)

    assert counts()["comments"] == rows


# --- The pieces ---------------------------------------------------------------


def test_ascending_picks_are_sorted_in_range_and_uniform():
    picks = list(seeding.ascending_picks(100_000, 1000, random.Random(3)))

    assert len(picks) == 100_000
    assert picks == sorted(picks)
    assert 0 <= picks[0] and picks[-1] <= 999
    per_value = [0] * 1000
    for pick in picks:
        per_value[pick] += 1
    # Binomial(100,000, 1/1000): mean 100, standard deviation 10.
    assert 50 < min(per_value) and max(per_value) < 150


@pytest.mark.parametrize("seconds", [0, 1.5, 1_700_000_000.123456, 1_754_321_098.765432])
def test_raw_datetimes_written_are_what_the_orm_writes(db, seconds):
    adapt = bulk.epoch_seconds_adapter()

    expected = connection.ops.adapt_datetimefield_value(datetime.fromtimestamp(seconds, dt_timezone.utc))
    assert adapt(seconds) == expected


def test_raw_datetimes_read_are_the_instants_the_orm_reads(seed_blog):
    seed_blog(posts=25, comments=0)

    chunks = list(bulk.id_and_time_chunks(Post, "created_at", 10))

    assert [len(ids) for ids, _ in chunks] == [10, 10, 5]
    read = [(pk, seconds) for ids, times in chunks for pk, seconds in zip(ids, times)]
    orm = [(pk, created_at.timestamp()) for pk, created_at in Post.objects.order_by("pk").values_list("pk", "created_at")]
    assert read == orm


@pytest.mark.django_db(transaction=True)
def test_a_bulk_load_on_postgresql_is_vacuumed_and_analyzed(fast_password_hashing):
    if connection.vendor != "postgresql":
        pytest.skip("VACUUM (ANALYZE) after a bulk load is for PostgreSQL")
    call_command("seed_blog", users=2, posts=30, comments=30, stdout=StringIO())

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, last_vacuum IS NOT NULL, last_analyze IS NOT NULL "
            "FROM pg_stat_user_tables WHERE relname IN ('blog_post', 'blog_comment') ORDER BY relname"
        )
        assert cursor.fetchall() == [("blog_comment", True, True), ("blog_post", True, True)]

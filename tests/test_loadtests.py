"""The Locust suite, run headless for a few seconds against a real server (gunicorn)."""
import json
import os
import re
import signal
import subprocess
import sys
import time

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from blog.models import Comment, Post

from .conftest import PROJECT_DIR, free_port

PASSWORD = "load-test-password"
READER_REQUESTS = {
    ("GET", "/blog/posts"),
    ("GET", "/blog/post/[id]"),
    ("GET", "/blog/post/[id]/comments"),
    ("GET", "/blog/comments"),
    ("GET", "/blog/comment/[id]"),
    ("GET", "/blog/posts?limit=[n]&offset=[n]"),
    ("GET", "/blog/comments?limit=[n]&offset=[n]"),
}
WRITER_REQUESTS = {
    ("POST", "/blog/create"),
    ("POST", "/blog/post/[id]/comment/create"),
}
INTEGRITY = re.compile(
    r"Integrity( \(totals of (\d+) workers?\))?: acknowledged (\d+), stored (\d+) .*: (no writes lost|.* LOST)"
)


def seed(accounts=10, pattern="seed_user_{n}", posts=30, comments=60):
    """Accounts sharing one password (hashed once: a hash costs ~0.5 s), posts and comments."""
    password = make_password(PASSWORD)
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=pattern.format(n=n), password=password) for n in range(1, accounts + 1)
    )
    made = Post.objects.bulk_create(
        Post(title=f"Post {i}", body="A body.", user=users[i % accounts]) for i in range(posts)
    )
    Comment.objects.bulk_create(
        Comment(post=made[i % posts], body="A comment.", user=users[i % accounts]) for i in range(comments)
    )


def run_locust(server_url, tmp_path, *options, env=None, run_time="6s", users=4, meanwhile=None):
    """Run the locustfile headless: its exit code, its output, and its final stats by (method, name).

    `meanwhile`, if given, is called every 0.2 s while Locust runs. The stats come from
    --json-file, written once at exit with the final figures (the CSV files lag by up to a
    second); with --processes every process would write that file, so those runs get none.
    """
    distributed = "--processes" in options
    command = [
        sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--headless", "--only-summary",
        "--host", server_url, "--users", str(users), "--spawn-rate", str(users), "--run-time", run_time,
        "--blog-min-wait", "0", "--blog-max-wait", "0.1",
        "--blog-max-p95-ms", "60000",  # this machine's speed is not what these tests check
        *options,
    ]
    if not distributed:
        command += ["--json-file", str(tmp_path / "stats")]
    # This file's options only, not whatever the developer's shell exports.
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("BLOG_", "LOCUST_"))}
    environment.update({"BLOG_SEED_PASSWORD": PASSWORD, **(env or {})})
    with open(tmp_path / "locust.log", "w") as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_DIR, env=environment, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while process.poll() is None and time.monotonic() < deadline:
                if meanwhile:
                    meanwhile()
                time.sleep(0.2)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # Locust and the workers it forked
                process.wait()
    output = (tmp_path / "locust.log").read_text()
    stats = {}
    if not distributed and (tmp_path / "stats.json").exists():
        entries = json.loads((tmp_path / "stats.json").read_text())
        stats = {(entry["method"], entry["name"]): entry for entry in entries}
    return process.returncode, output, stats


def requests_made(stats):
    return {key for key, entry in stats.items() if entry["num_requests"] > 0}


def failures(stats):
    return sum(entry["num_failures"] for entry in stats.values())


def acknowledged_in_stats(stats):
    return sum(stats[key]["num_requests"] for key in WRITER_REQUESTS)


def writes_stored():
    return Post.objects.count() + Comment.objects.count()


def test_load_run_exercises_every_task_without_failures_or_lost_writes(server_url, tmp_path):
    seed(posts=10_000)  # enough for the API to serve the post count from its short-lived cache
    before = writes_stored()

    # Half the sessions write, so that both sections surely run within a few seconds.
    code, output, stats = run_locust(server_url, tmp_path, "--blog-write-percent", "50")

    assert code == 0, output
    assert failures(stats) == 0, output
    assert READER_REQUESTS | WRITER_REQUESTS <= requests_made(stats), output
    [(_, workers, acknowledged, stored, verdict)] = INTEGRITY.findall(output)
    assert (workers, verdict) == ("", "no writes lost"), output
    assert int(acknowledged) == acknowledged_in_stats(stats) > 0
    assert writes_stored() - before >= int(stored) >= int(acknowledged)


def test_custom_options_reach_the_users(server_url, tmp_path):
    seed(accounts=2, pattern="lt_writer_{n}")
    posts_before = set(Post.objects.values_list("id", flat=True))
    comments_before = set(Comment.objects.values_list("id", flat=True))

    code, output, stats = run_locust(
        server_url, tmp_path,
        "--blog-username-pattern", "lt_writer_{n}", "--blog-accounts", "2", "--blog-write-percent", "100",
        run_time="4s", users=2,
    )

    assert code == 0, output
    made = requests_made(stats)
    assert WRITER_REQUESTS <= made, output
    # Writers list posts to find one to comment on; nothing else a reader does happens.
    assert not (READER_REQUESTS - {("GET", "/blog/posts")}) & made, output
    authors = set(Post.objects.exclude(id__in=posts_before).values_list("user__username", flat=True))
    authors |= set(Comment.objects.exclude(id__in=comments_before).values_list("user__username", flat=True))
    assert authors == {"lt_writer_1", "lt_writer_2"}


def test_run_over_the_p95_threshold_exits_1(server_url, tmp_path):
    seed()

    code, output, stats = run_locust(server_url, tmp_path, "--blog-max-p95-ms", "0", run_time="2s", users=1)

    assert code == 1, output
    assert "Load test failed: p95 response time" in output
    assert "is over --blog-max-p95-ms 0" in output
    assert failures(stats) == 0


def test_acknowledged_writes_missing_afterwards_fail_the_run(server_url, tmp_path):
    seed()
    seeded = list(Post.objects.values_list("id", flat=True))

    def lose_new_posts():
        Post.objects.exclude(id__in=seeded).delete()

    code, output, _ = run_locust(
        server_url, tmp_path, "--blog-write-percent", "100",
        run_time="3s", users=2, meanwhile=lose_new_posts,
    )

    assert code == 1, output
    [(_, _, acknowledged, stored, verdict)] = INTEGRITY.findall(output)
    assert verdict.endswith("acknowledged writes LOST"), output
    assert int(stored) < int(acknowledged)


def test_start_stops_the_run_against_an_empty_database(server_url, tmp_path):
    started = time.monotonic()

    code, output, stats = run_locust(server_url, tmp_path, run_time="60s")

    assert code == 1, output
    assert time.monotonic() - started < 30
    assert "has no posts for readers to read" in output
    assert "python manage.py seed_blog" in output
    assert stats == {}
    assert "Integrity" not in output


def test_distributed_run_prints_the_integrity_of_all_workers_once(server_url, tmp_path):
    seed()
    before = writes_stored()

    port = str(free_port())  # not Locust's default 5557, which another run may hold
    code, output, _ = run_locust(
        server_url, tmp_path, "--processes", "2", "--blog-write-percent", "50",
        "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
        "--master-host", "127.0.0.1", "--master-port", port,
    )

    assert code == 0, output
    assert re.search(r"Summary: [1-9]\d* requests, 0 failed", output), output
    [(_, workers, acknowledged, stored, verdict)] = INTEGRITY.findall(output)
    assert (workers, verdict) == ("2", "no writes lost"), output
    # Each of the 4 users may have had one write cut off by the stop: stored, never acknowledged.
    assert writes_stored() - before - 4 <= int(acknowledged) <= int(stored) <= writes_stored() - before
    assert int(acknowledged) > 0

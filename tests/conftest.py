import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from blog.models import Comment, Post
from blogproject import serve
from loadtests.private_services import PrivatePostgres, ServiceError, Tmpfs, missing_postgres

from .helpers import PROJECT_DIR, TIED_ROWS, answers, free_port, listening_workers, server_database_url, wait_for
from .test_loadtests import PASSWORD



@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def fast_password_hashing(settings):
    """Cheap password hashes for tests that make many users or log in often (PBKDF2 is slow by design).

    Only where passwords are checked in the test's own process: a server started by a
    test does not accept these hashes.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(db):
    def make_user(username="alice", password="correct-horse-battery"):
        return get_user_model().objects.create_user(username=username, password=password)

    return make_user


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def token(user):
    return Token.objects.create(user=user)


@pytest.fixture
def auth_client(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def make_post(user):
    def make_post(title="A title", body="A body", author=None):
        return Post.objects.create(title=title, body=body, user=author or user)

    return make_post


@pytest.fixture
def make_comment(user, make_post):
    def make_comment(post=None, body="A comment", author=None):
        return Comment.objects.create(post=post or make_post(), body=body, user=author or user)

    return make_comment


@pytest.fixture
def tied_posts_and_comments(make_user):
    """26 posts and 26 comments by two authors, with created_at shared in threes so that
    the id tie-break decides the order; the comments spread over the first 5 posts."""
    authors = [make_user(username="ann"), make_user(username="bob")]
    posts = Post.objects.bulk_create(
        Post(title=f"Post {n}", body="Body", user=authors[n % 2]) for n in range(TIED_ROWS))
    comments = Comment.objects.bulk_create(
        Comment(post=posts[n % 5], body=f"Comment {n}", user=authors[n % 2]) for n in range(TIED_ROWS))
    base = timezone.now()
    for model, rows in ((Post, posts), (Comment, comments)):
        for n, row in enumerate(rows):
            row.created_at = base - timedelta(minutes=n // 3)
        model.objects.bulk_update(rows, ["created_at"])
    return posts, comments


@pytest.fixture
def commented_post_url(make_post, make_comment):
    """The comment list URL of a new post with `count` comments ("Comment 0" the oldest),
    and one comment on another post besides."""

    def commented_post_url(count):
        post = make_post()
        for n in range(count):
            make_comment(post=post, body=f"Comment {n}")
        make_comment(body="On another post")
        return reverse("blog:post-comment-list", kwargs={"pk": post.pk})

    return commented_post_url


class Server(NamedTuple):
    """A server started for a test: its base URL, its main process and how many workers it runs."""

    url: str
    process: subprocess.Popen
    workers: int


@pytest.fixture
def server_env(transactional_db):
    """The environment for a server a test starts: production mode on the test database.

    Depends on transactional_db so that what a test writes is committed and visible to
    the server's processes, and so the server stops before the database is flushed.
    """
    return {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": server_database_url(),
    }


@pytest.fixture
def server(server_env, tmp_path):
    """granian serving the test database with 2 workers, as blogproject.serve runs it; its output in granian.log."""
    port = free_port()
    workers = 2
    log = open(tmp_path / "granian.log", "w")
    process = subprocess.Popen(
        serve.command("127.0.0.1", port, workers),
        cwd=PROJECT_DIR, env=server_env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # Every worker, not just the first: a SIGTERM that reaches a worker still starting
        # is lost, and granian then waits its kill timeout (30 s) before it exits.
        deadline = time.monotonic() + 60
        while len(listening_workers(process.pid, port)) < workers:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"granian did not start:\n{(tmp_path / 'granian.log').read_text()}")
            time.sleep(0.1)
        with urllib.request.urlopen(f"{url}/health", timeout=60) as response:
            assert response.status == 200
        yield Server(url, process, workers)
    finally:
        process.terminate()
        # Past granian's --workers-kill-timeout (30 s), after which it kills its workers.
        process.wait(timeout=60)
        log.close()


@pytest.fixture
def server_url(server):
    """Base URL of the `server` fixture's granian."""
    return server.url


class LocustWebUI(NamedTuple):
    """Locust's web UI started for a test: its URL (ending in /), its process and the file its output goes to."""

    url: str
    process: subprocess.Popen
    log: Path

    def stop(self):
        """Stop Locust as SIGTERM does: it judges a run still going on, and its output is then complete."""
        self.process.terminate()
        self.process.wait(timeout=60)


@pytest.fixture
def start_locust_web_ui(server_url, tmp_path):
    """Start Locust's web UI on the locustfile against `server_url`, with `options` added to its command line;
    each is stopped after the test."""
    started = []

    def start_locust_web_ui(*options):
        port = free_port()
        # The tests' own options only, not whatever the developer's shell exports; seed() gave the accounts PASSWORD.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BLOG_", "LOCUST_"))}
        env["BLOG_SEED_PASSWORD"] = PASSWORD
        log = tmp_path / f"locust-web-ui-{port}.log"
        with open(log, "w") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--web-host", "127.0.0.1",
                 "--web-port", str(port), "--host", server_url, *options],
                cwd=PROJECT_DIR, env=env, stdout=output, stderr=subprocess.STDOUT,
            )
        web_ui = LocustWebUI(f"http://127.0.0.1:{port}/", process, log)
        started.append(web_ui)
        wait_for(lambda: process.poll() is not None or answers(web_ui.url), "Locust's web UI")
        assert process.poll() is None, log.read_text()
        return web_ui

    try:
        yield start_locust_web_ui
    finally:
        for web_ui in started:
            web_ui.stop()


@pytest.fixture
def private_postgres():
    """A running PostgreSQL server of the test's own (loadtests.private_services.PrivatePostgres), removed afterwards."""
    if problem := missing_postgres():
        pytest.skip(problem)
    # Not under pytest's tmp_path, which only its owner (root) may enter.
    directory = tempfile.mkdtemp(prefix="blog-postgres-")
    postgres = PrivatePostgres(directory, free_port())
    try:
        postgres.create()
        postgres.start()
        yield postgres
    finally:
        if postgres.is_running():
            postgres.stop()
        shutil.rmtree(directory)


@pytest.fixture
def small_filesystem():
    """The directory of a 2 MB file system of the test's own (tmpfs), for running out of space."""
    directory = Path(tempfile.mkdtemp(prefix="blog-small-fs-"))
    filesystem = Tmpfs(directory, "2m")
    try:
        filesystem.mount()
    except ServiceError as error:
        directory.rmdir()
        pytest.skip(str(error))
    try:
        yield directory
    finally:
        filesystem.unmount()
        directory.rmdir()

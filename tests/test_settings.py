"""Production mode (DJANGO_DEBUG=0) refuses unsafe settings and serves no debug output."""
import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

import blog.views

PROJECT_DIR = Path(__file__).resolve().parent.parent
FIX_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"


def run_in_production(*args, secret_key=None):
    """Run python with `args` in a clean production environment, as a server would start."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "REDIS_"))}
    env.update(DJANGO_SETTINGS_MODULE="blogproject.settings", DJANGO_DEBUG="0")
    if secret_key is not None:
        env["DJANGO_SECRET_KEY"] = secret_key
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "secret_key, problem",
    [
        (None, "DJANGO_SECRET_KEY is not set"),
        ("", "DJANGO_SECRET_KEY is not set"),
        ("django-insecure-" + secrets.token_urlsafe(50), "development or short key"),
        (secrets.token_urlsafe(20), "development or short key"),
    ],
    ids=["missing", "empty", "django-insecure", "short"],
)
@pytest.mark.parametrize(
    "command",
    [
        ["manage.py", "check", "--deploy"],
        ["-c", "import django; django.setup()"],
    ],
    ids=["check-deploy", "django-setup"],
)
def test_production_refuses_to_start_without_a_real_secret_key(command, secret_key, problem):
    result = run_in_production(*command, secret_key=secret_key)

    assert result.returncode != 0
    assert problem in result.stderr
    assert FIX_HINT in result.stderr


def test_production_with_a_real_secret_key_passes_check_deploy():
    result = run_in_production("manage.py", "check", "--deploy", secret_key=secrets.token_urlsafe(50))

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stderr


def test_production_turns_debug_off():
    result = run_in_production(
        "-c",
        "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)",
        secret_key=secrets.token_urlsafe(50),
    )

    assert result.stdout.strip() == "False", result.stderr


def test_production_server_sends_nosniff_and_a_json_404_without_debug_page(server_url):
    with urllib.request.urlopen(f"{server_url}/blog/posts", timeout=10) as response:
        assert response.headers["X-Content-Type-Options"] == "nosniff"

    with pytest.raises(urllib.error.HTTPError) as not_found:
        urllib.request.urlopen(f"{server_url}/no/such/page", timeout=10)

    assert not_found.value.code == 404
    assert not_found.value.headers["X-Content-Type-Options"] == "nosniff"
    assert not_found.value.headers["Content-Type"] == "application/json"
    assert json.load(not_found.value) == {"detail": "Not found."}


def test_unhandled_error_is_a_json_500_without_traceback(db, monkeypatch, settings):
    settings.DEBUG = False

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(blog.views.PostList, "list", broken)
    client = APIClient(raise_request_exception=False)

    response = client.get(reverse("blog:post-list"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.json() == {"detail": "Server Error (500)"}
    assert b"secret internals" not in response.content


def database_options(**env):
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {}), default=str))"
    )
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "DATABASE_"))}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60,
        env={**clean, "DJANGO_SETTINGS_MODULE": "blogproject.settings", **env},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, {"server_side_binding": True, "prepare_threshold": 5}),
        ({"DJANGO_DB_PREPARED_STATEMENTS": "0"}, {}),
    ],
    ids=["default", "turned-off"],
)
def test_postgresql_prepares_statements_unless_turned_off(env, expected):
    options = database_options(DATABASE_URL="postgres://blog@db.example.com:5432/blog", **env)

    assert options == expected


def test_statements_are_prepared_on_postgresql(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    with connection.cursor() as cursor:
        for _ in range(6):
            cursor.execute("SELECT %s::int + 1", [41])
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]

    assert any("+ 1" in statement for statement in prepared), prepared


@pytest.mark.django_db
def test_errors_outside_drfs_views_are_json_in_drfs_shape(settings, client):
    settings.DEBUG = False

    not_found = client.get("/nowhere")
    bad_host = client.get("/blog/posts", HTTP_HOST="attacker.example.com")

    assert (not_found.status_code, not_found.json()) == (404, {"detail": "Not found."})
    assert (bad_host.status_code, bad_host.json()) == (400, {"detail": "Bad Request (400)"})

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import cache
from django.db import connections
from django.urls import reverse
from rest_framework.authtoken import serializers as authtoken_serializers
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from blog.throttling import FailedLoginAddressThrottle, FailedLoginThrottle

PASSWORD = "correct-horse-battery"

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


@pytest.fixture
def allowed_failures():
    """How many failed logins one username gets per window (the "failed_login" rate)."""
    return FailedLoginThrottle().num_requests


@pytest.fixture
def allowed_address_failures():
    """How many failed logins one client address gets per window (the "failed_login_address" rate)."""
    return FailedLoginAddressThrottle().num_requests


@pytest.fixture
def committed_failures(transactional_db):
    """For tests whose writes are committed: forget the failures they record, which
    live in the cache table, a table the database flush after the test leaves alone."""
    yield
    cache.clear()


def login(client, username="alice", password=PASSWORD, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, format="json", **extra)


def spray(client, count, **extra):
    """`count` failed logins from one client, each for a username of its own; their statuses."""
    return [login(client, username=f"nobody{n}", password="wrong", **extra).status_code for n in range(count)]


def fail_at_once(count, monkeypatch):
    """`count` failed logins for alice in threads, each past the throttles' checks before
    any is recorded (the moment two processes' reads of a count could both miss the other's
    write); their statuses."""
    barrier = threading.Barrier(count)
    authenticate = authtoken_serializers.authenticate

    def authenticate_together(**credentials):
        barrier.wait(timeout=30)
        return authenticate(**credentials)

    def attempt(_):
        try:
            return login(APIClient(), password="wrong").status_code
        finally:
            connections.close_all()  # this thread's own connection

    with monkeypatch.context() as patch:
        patch.setattr(authtoken_serializers, "authenticate", authenticate_together)
        with ThreadPoolExecutor(count) as pool:
            return list(pool.map(attempt, range(count)))


def test_login_returns_the_users_token(api_client, user):
    response = login(api_client)

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=user).key}


def test_login_again_returns_the_same_token(api_client, token):
    assert login(api_client).json() == login(api_client).json() == {"token": token.key}


def test_login_accepts_a_form_encoded_body(api_client, token):
    response = api_client.post(reverse("login"), {"username": "alice", "password": PASSWORD})

    assert response.status_code == 200
    assert response.json() == {"token": token.key}


def test_login_without_the_trailing_slash_returns_the_token_too(api_client, token):
    # The public URL: a redirect to /login/ would lose the POST's body.
    response = api_client.post("/login", {"username": "alice", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert response.json() == {"token": token.key}


@pytest.mark.parametrize("username, password", [("alice", "wrong"), ("nobody", PASSWORD)])
def test_login_with_wrong_credentials_is_400(api_client, user, username, password):
    response = login(api_client, username, password)

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert not Token.objects.exists()


def test_login_without_credentials_is_400_keyed_by_field(api_client, db):
    response = api_client.post(reverse("login"), {}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "username": ["This field is required."],
        "password": ["This field is required."],
    }


def test_login_ignores_a_stale_token_header(api_client, token):
    response = api_client.post(
        reverse("login"),
        {"username": "alice", "password": PASSWORD},
        format="json",
        HTTP_AUTHORIZATION="Token no-longer-valid",
    )

    assert response.status_code == 200
    assert response.json() == {"token": token.key}


def test_login_with_a_lone_surrogate_in_the_username_is_400(api_client, db):
    response = api_client.post(
        reverse("login"), '{"username": "\\ud800", "password": "x"}', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == {"username": ["Surrogate characters are not allowed: U+D800."]}


def test_repeated_failed_logins_for_a_username_are_429_with_retry_after(api_client, user, allowed_failures):
    for _ in range(allowed_failures):
        assert login(api_client, password="wrong").status_code == 400

    response = login(api_client, password="wrong")

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert set(response.json()) == {"detail"}


def test_throttled_username_is_refused_even_with_the_right_password(api_client, user, allowed_failures):
    for _ in range(allowed_failures):
        login(api_client, password="wrong")

    assert login(api_client).status_code == 429


def test_failed_logins_count_per_username_whatever_its_case(api_client, user, allowed_failures):
    for _ in range(allowed_failures):
        login(api_client, username="ALICE", password="wrong")

    assert login(api_client).status_code == 429


def test_failed_logins_for_one_username_do_not_throttle_another(api_client, make_user, allowed_failures):
    make_user(username="alice")
    make_user(username="bob")
    for _ in range(allowed_failures + 1):
        login(api_client, username="alice", password="wrong")

    assert login(api_client, username="bob").status_code == 200


def test_successful_logins_are_never_throttled(api_client, user, allowed_failures):
    statuses = {login(api_client).status_code for _ in range(3 * allowed_failures)}

    assert statuses == {200}


def test_failed_logins_are_forgotten_after_the_window(api_client, user, allowed_failures, monkeypatch):
    for _ in range(allowed_failures):
        login(api_client, password="wrong")
    later = FailedLoginThrottle.timer() + FailedLoginThrottle().duration + 1
    monkeypatch.setattr(FailedLoginThrottle, "timer", staticmethod(lambda: later))

    assert login(api_client).status_code == 200


def test_failed_login_count_is_shared_by_server_processes(
    server_url, make_user, allowed_failures, committed_failures
):
    make_user(username="carol")

    def status_of_login(password):
        request = urllib.request.Request(
            f"{server_url}/login/",
            data=json.dumps({"username": "carol", "password": password}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    # Each request is a new connection, so the two workers take turns at random: a
    # per-process count would let some of the attempts after the limit through. (The
    # server cannot check this module's cheap hashes, but a throttled login is refused
    # before its password is checked.)
    failures = [status_of_login("wrong") for _ in range(allowed_failures)]
    after_limit = [status_of_login(password) for password in ["wrong", PASSWORD] * 3]

    assert failures == [400] * allowed_failures
    assert after_limit == [429] * 6


@pytest.mark.parametrize("padded", ["  alice  ", "alice\t", "\nalice", "\u3000alice"])
def test_failed_logins_count_for_the_username_whatever_the_whitespace_around_it(
    api_client, user, allowed_failures, padded
):
    for _ in range(allowed_failures):
        assert login(api_client, username=padded, password="wrong").status_code == 400

    assert login(api_client).status_code == 429


def test_a_throttled_username_padded_with_whitespace_is_refused_even_with_the_right_password(
    api_client, user, allowed_failures
):
    for _ in range(allowed_failures):
        login(api_client, password="wrong")

    response = login(api_client, username="  alice  ")

    assert response.status_code == 429
    assert not Token.objects.exists()


def test_failed_logins_with_the_username_as_a_json_number_count_for_that_username(
    api_client, make_user, allowed_failures
):
    make_user(username="12345")
    for _ in range(allowed_failures):
        response = api_client.post(reverse("login"), {"username": 12345, "password": "wrong"}, format="json")
        assert response.status_code == 400

    assert login(api_client, username="12345").status_code == 429


def test_failed_logins_at_the_same_moment_are_all_counted(
    make_user, allowed_failures, committed_failures, monkeypatch
):
    make_user()

    statuses = fail_at_once(allowed_failures, monkeypatch)

    assert statuses == [400] * allowed_failures
    assert login(APIClient()).status_code == 429


def test_failed_logins_at_the_same_moment_are_counted_once_each(
    make_user, allowed_failures, committed_failures, monkeypatch
):
    make_user()
    client = APIClient()

    fail_at_once(allowed_failures - 1, monkeypatch)

    assert login(client).status_code == 200
    assert login(client, password="wrong").status_code == 400
    assert login(client).status_code == 429


def test_one_address_failing_for_many_usernames_is_429_with_retry_after(
    api_client, user, allowed_failures, allowed_address_failures
):
    assert allowed_address_failures > allowed_failures
    assert spray(api_client, allowed_address_failures) == [400] * allowed_address_failures

    response = login(api_client)  # a username not tried, with its right password

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json() == {
        "detail": f"Request was throttled. Expected available in {response['Retry-After']} seconds."
    }


def test_failed_logins_from_one_address_do_not_throttle_another(api_client, user, allowed_address_failures):
    spray(api_client, allowed_address_failures + 1)

    assert login(api_client, REMOTE_ADDR="192.0.2.7").status_code == 200


def test_a_client_cannot_leave_its_address_limit_by_sending_x_forwarded_for(
    api_client, user, allowed_address_failures
):
    spray(api_client, allowed_address_failures)

    assert login(api_client, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 429


def test_behind_a_configured_proxy_the_address_limit_is_per_forwarded_client(
    api_client, user, allowed_address_failures, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    spray(api_client, allowed_address_failures, HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert login(api_client, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 429
    assert login(api_client, HTTP_X_FORWARDED_FOR="203.0.113.10").status_code == 200


def test_successful_logins_from_one_address_are_never_throttled(
    api_client, make_user, allowed_address_failures
):
    usernames = [f"reader{n}" for n in range(3)]
    for username in usernames:
        make_user(username=username)
    spray(api_client, allowed_address_failures - 1)

    logins = [login(api_client, username=usernames[n % 3]) for n in range(allowed_address_failures + 1)]

    assert {response.status_code for response in logins} == {200}
    # The successes were not counted: one more failure is still within the limit.
    assert login(api_client, password="wrong").status_code == 400
    assert login(api_client).status_code == 429

import json
import urllib.error
import urllib.request

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from blog.throttling import FailedLoginThrottle

PASSWORD = "correct-horse-battery"

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


@pytest.fixture
def allowed_failures():
    """How many failed logins one username gets per window (the "failed_login" rate)."""
    return FailedLoginThrottle().num_requests


def login(client, username="alice", password=PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password}, format="json")


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


def test_failed_login_count_is_shared_by_server_processes(server_url, make_user, allowed_failures):
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

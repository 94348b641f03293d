"""blog.authentication: DRF's token and session authentication, the same answers for less work."""
from django.contrib.auth import login
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import RequestFactory
from django.utils.functional import SimpleLazyObject
import pytest
from rest_framework import authentication as drf
from rest_framework.request import Request

from blog import authentication as blog
from blog.authentication import has_no_session_user

pytestmark = pytest.mark.django_db

SESSION_AUTHENTICATIONS = [blog.SessionAuthentication, drf.SessionAuthentication]


def through_the_middleware(cookies=None, then=None):
    """A GET as the view sees it: after SessionMiddleware, AuthenticationMiddleware and `then`."""
    factory = RequestFactory()
    for name, value in (cookies or {}).items():
        factory.cookies[name] = value
    request = factory.get("/blog/posts")
    SessionMiddleware(lambda request: None).process_request(request)
    AuthenticationMiddleware(lambda request: None).process_request(request)
    if then:
        then(request)
    return request


def logged_in_cookie(client, user):
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


@pytest.fixture
def ways_in(client, make_user):
    """Requests as they reach DRF: no cookie, a user's session, a bad cookie, a login by
    another middleware, another middleware's lazy user, a session written before the view."""
    active, inactive = make_user(username="active"), make_user(username="gone")
    inactive.is_active = False
    inactive.save()
    inactive_cookie = logged_in_cookie(client, inactive)
    client.logout()
    return {
        "no cookie": lambda: through_the_middleware(),
        "a session cookie": lambda: through_the_middleware(logged_in_cookie(client, active)),
        "an inactive user's session": lambda: through_the_middleware(inactive_cookie),
        "an unknown session": lambda: through_the_middleware({"sessionid": "x" * 32}),
        "a malformed session cookie": lambda: through_the_middleware({"sessionid": "short"}),
        "login() by a middleware": lambda: through_the_middleware(then=lambda request: login(request, active)),
        "another middleware's lazy user": lambda: through_the_middleware(
            then=lambda request: setattr(request, "user", SimpleLazyObject(lambda: active))),
        "a session written before the view": lambda: through_the_middleware(
            then=lambda request: request.session.update({"_auth_user_id": str(active.pk),
                                                          "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                                                          "_auth_user_hash": active.get_session_auth_hash()})),
    }


@pytest.mark.parametrize("way", ["no cookie", "a session cookie", "an inactive user's session", "an unknown session",
                                 "a malformed session cookie", "login() by a middleware",
                                 "another middleware's lazy user", "a session written before the view"])
def test_session_authentication_answers_as_drfs_does(ways_in, way):
    answers = []
    for authentication in SESSION_AUTHENTICATIONS:
        request = ways_in[way]()
        found = authentication().authenticate(Request(request))
        answers.append((None if found is None else (found[0].username, found[1]), request.session.accessed))
    assert answers[0] == answers[1]


def test_a_request_without_a_session_cookie_is_known_to_have_no_session_user():
    assert has_no_session_user(through_the_middleware())


@pytest.mark.parametrize("way", ["a session cookie", "an unknown session", "login() by a middleware",
                                 "another middleware's lazy user", "a session written before the view"])
def test_a_request_that_may_have_a_session_user_is_left_to_drf(ways_in, way):
    assert not has_no_session_user(ways_in[way]())


def test_a_lazy_user_already_evaluated_is_left_to_drf():
    request = through_the_middleware()
    assert not request.user.is_authenticated
    assert not has_no_session_user(request)


def test_an_anonymous_read_varies_by_cookie_as_with_drfs_authentication(api_client, make_post, settings):
    make_post()
    ours = api_client.get("/blog/posts")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication", "rest_framework.authentication.SessionAuthentication"]}
    drfs = api_client.get("/blog/posts")

    assert ours.status_code == drfs.status_code == 200
    assert ours["Vary"] == drfs["Vary"] == "Accept, Cookie"
    assert ours.content == drfs.content


def test_a_session_user_is_still_recognised_by_the_browsable_api(client, user, make_post):
    make_post()
    client.force_login(user)

    page = client.get("/blog/posts", HTTP_ACCEPT="text/html")

    assert page.status_code == 200 and user.username in page.content.decode()


def test_a_bad_token_on_a_read_is_still_401(api_client, make_post):
    post = make_post()
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-token")

    assert api_client.get(f"/blog/post/{post.pk}").status_code == 401


def test_a_session_class_that_reads_its_own_way_is_left_to_drf():
    request = through_the_middleware()

    class HeaderSession(type(request.session)):
        def __getitem__(self, key):
            return super().__getitem__(key)

    request.session.__class__ = HeaderSession
    assert not has_no_session_user(request)

"""Bad input gets a clear 4xx, never a 500, and nothing is stored."""
import http.client
import json
import urllib.request
from datetime import datetime, timezone
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import reverse

from blog.models import Comment, Post

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


def create_post(client, data, **extra):
    return client.post(reverse("blog:post-create"), data, format="json", **extra)


# --- Post and comment bodies ------------------------------------------------


@pytest.mark.parametrize(
    "data, errors",
    [
        ({"title": "", "body": "b"}, {"title": ["This field may not be blank."]}),
        ({"title": "   ", "body": "b"}, {"title": ["This field may not be blank."]}),
        ({"title": "t" * 501, "body": "b"}, {"title": ["Ensure this field has no more than 500 characters."]}),
        ({"body": "b"}, {"title": ["This field is required."]}),
        ({"title": "t"}, {"body": ["This field is required."]}),
        ({"title": "t", "body": ""}, {"body": ["This field may not be blank."]}),
        ({"title": None, "body": "b"}, {"title": ["This field may not be null."]}),
        ({"title": "t", "body": {"nested": 1}}, {"body": ["Not a valid string."]}),
        ({"title": "nul\x00", "body": "b"}, {"title": ["Null characters are not allowed."]}),
    ],
)
def test_invalid_post_is_400_keyed_by_field(auth_client, data, errors):
    response = create_post(auth_client, data)

    assert response.status_code == 400
    assert response.json() == errors
    assert not Post.objects.exists()


@pytest.mark.parametrize("field", ["title", "body"])
def test_lone_surrogate_in_json_is_400_not_a_database_error(auth_client, field):
    raw = json.dumps({"title": "t", "body": "b", field: "x\ud800"})

    response = auth_client.post(reverse("blog:post-create"), raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {field: ["Surrogate characters are not allowed: U+D800."]}
    assert not Post.objects.exists()


def test_title_of_500_characters_is_accepted(auth_client):
    response = create_post(auth_client, {"title": "t" * 500, "body": "b"})

    assert response.status_code == 201


def test_post_body_over_the_documented_maximum_is_400(auth_client):
    limit = settings.BLOG_POST_BODY_MAX_LENGTH

    response = create_post(auth_client, {"title": "t", "body": "b" * (limit + 1)})

    assert response.status_code == 400
    assert response.json() == {"body": [f"Ensure this field has no more than {limit} characters."]}
    assert create_post(auth_client, {"title": "t", "body": "b" * limit}).status_code == 201


def test_comment_body_over_the_documented_maximum_is_400(auth_client, make_post):
    limit = settings.BLOG_COMMENT_BODY_MAX_LENGTH
    url = reverse("blog:comment-create", kwargs={"pk": make_post().pk})

    response = auth_client.post(url, {"body": "b" * (limit + 1)}, format="json")

    assert response.status_code == 400
    assert response.json() == {"body": [f"Ensure this field has no more than {limit} characters."]}
    assert auth_client.post(url, {"body": "b" * limit}, format="json").status_code == 201


@pytest.mark.parametrize("data", [{}, {"body": ""}, {"body": None}])
def test_comment_without_body_is_400(auth_client, make_post, data):
    response = auth_client.post(reverse("blog:comment-create", kwargs={"pk": make_post().pk}), data, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["body"]
    assert not Comment.objects.exists()


@pytest.mark.parametrize("raw", ['{"title": "t", "body": ', "not json", '{"title": "t",}', "\xff"])
def test_malformed_json_is_400_with_a_detail(auth_client, raw):
    response = auth_client.post(reverse("blog:post-create"), raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert not Post.objects.exists()


@pytest.mark.parametrize("raw", ['[{"title": "t", "body": "b"}]', '"a string"', "42", "null"])
def test_json_that_is_not_an_object_is_400(auth_client, raw):
    response = auth_client.post(reverse("blog:post-create"), raw, content_type="application/json")

    assert response.status_code == 400
    assert set(response.json()) == {"non_field_errors"}
    assert not Post.objects.exists()


def test_unsupported_content_type_is_415(auth_client):
    response = auth_client.post(reverse("blog:post-create"), "title=t", content_type="text/plain")

    assert response.status_code == 415
    assert set(response.json()) == {"detail"}


def test_read_only_post_fields_are_ignored(auth_client, user, make_user):
    other = make_user(username="mallory")
    response = create_post(
        auth_client,
        {"title": "t", "body": "b", "id": 999, "user": other.pk, "created_at": "2000-01-01T00:00:00Z"},
    )

    assert response.status_code == 201
    post = Post.objects.get()
    assert response.json() == {"id": post.pk, "title": "t", "body": "b", "user": user.pk}
    assert post.pk != 999
    assert post.user == user
    assert post.created_at > datetime(2001, 1, 1, tzinfo=timezone.utc)


def test_read_only_comment_fields_and_the_tutorials_title_are_ignored(auth_client, user, make_user, make_post):
    post, elsewhere, other = make_post(), make_post(), make_user(username="mallory")

    response = auth_client.post(
        reverse("blog:comment-create", kwargs={"pk": post.pk}),
        {"body": "b", "title": "sent by the tutorial's client", "post": elsewhere.pk, "user": other.pk, "id": 999},
        format="json",
    )

    assert response.status_code == 201
    comment = Comment.objects.get()
    assert response.json() == {"id": comment.pk, "post": post.pk, "body": "b", "user": user.pk}
    assert (comment.post, comment.user) == (post, user)


def test_unknown_post_fields_are_ignored(auth_client, user):
    response = create_post(auth_client, {"title": "t", "body": "b", "tags": ["x"], "draft": True})

    assert response.status_code == 201
    assert response.json() == {"id": Post.objects.get().pk, "title": "t", "body": "b", "user": user.pk}


# --- Pagination and query strings -------------------------------------------


@pytest.fixture
def five_posts(make_post):
    return [make_post(title=str(number)) for number in range(5)]


@pytest.mark.parametrize("url_name", ["blog:post-list", "blog:comment-list"])
@pytest.mark.parametrize(
    "query",
    [
        {"limit": "abc"},
        {"limit": "-1"},
        {"limit": "0"},
        {"limit": "1.5"},
        {"limit": ""},
        {"offset": "abc"},
        {"offset": "-7"},
        {"offset": "1e3"},
        {"limit": "x", "offset": "-1"},
        {"page": "1"},
        {"page": "2", "ordering": "id", "search": "zzz"},
    ],
)
def test_garbage_negative_or_unknown_query_parameters_fall_back_to_the_first_default_page(
    api_client, make_comment, url_name, query
):
    for _ in range(3):
        make_comment()
    expected = api_client.get(reverse(url_name)).json()

    response = api_client.get(reverse(url_name), query)

    assert response.status_code == 200
    assert response.json()["results"] == expected["results"]
    assert response.json()["count"] == 3


@pytest.mark.parametrize("offset", ["5", "1000000", str(2**63), "9" * 40])
def test_offset_past_the_end_is_an_empty_page(api_client, five_posts, offset):
    response = api_client.get(reverse("blog:post-list"), {"offset": offset})

    assert response.status_code == 200
    assert response.json()["count"] == 5
    assert response.json()["results"] == []
    assert response.json()["next"] is None


@pytest.mark.parametrize("limit", ["101", "1000000", "9" * 40])
def test_huge_limit_is_cut_to_100(api_client, five_posts, limit):
    response = api_client.get(reverse("blog:post-list"), {"limit": limit})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 5


def test_post_comments_fall_back_on_garbage_limit_and_offset(api_client, make_comment):
    comment = make_comment()

    response = api_client.get(
        reverse("blog:post-comment-list", kwargs={"pk": comment.post_id}), {"limit": "-1", "offset": "x", "page": "1"}
    )

    assert response.status_code == 200
    assert [result["id"] for result in response.json()["results"]] == [comment.pk]


# --- URLs -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/nowhere",
        "/blog/post/abc",
        "/blog/post/-1",
        "/blog/post/0",
        "/blog/post/1.5",
        f"/blog/post/{2**63}",
        "/blog/post/" + "9" * 40,
        "/blog/comment/" + "9" * 40,
        "/blog/post/" + "9" * 40 + "/comments",
    ],
)
def test_unknown_or_impossible_urls_are_404_json(api_client, db, path):
    response = api_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}


def test_comment_on_impossible_post_id_is_404_json(auth_client):
    response = auth_client.post("/blog/post/" + "9" * 40 + "/comment/create", {"body": "b"}, format="json")

    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_largest_possible_id_is_a_plain_404(api_client, db):
    response = api_client.get(reverse("blog:post-detail", kwargs={"pk": 2**63 - 1}))

    assert response.status_code == 404
    assert response.json() == {"detail": "No Post matches the given query."}


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_methods_outside_the_contract_are_405(auth_client, make_post, method):
    response = getattr(auth_client, method)(reverse("blog:post-detail", kwargs={"pk": make_post().pk}))

    assert response.status_code == 405
    assert set(response.json()) == {"detail"}


# --- Request size -----------------------------------------------------------


def test_body_over_the_upload_limit_is_413_json(auth_client):
    too_big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)

    response = auth_client.post(reverse("blog:post-create"), too_big, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {
        "detail": f"Request body is {len(too_big)} bytes; the limit is {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
    }
    assert not Post.objects.exists()


def test_server_answers_a_body_over_the_upload_limit_with_413_and_keeps_serving(server_url):
    address = urlsplit(server_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        # The answer comes from Content-Length alone. The body is never sent: bytes the
        # server leaves unread when it closes the socket would reset the connection
        # before the answer could be read.
        connection.putrequest("POST", "/blog/create")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))
        connection.endheaders()
        response = connection.getresponse()
        status, content_type, body = response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()

    assert (status, content_type) == (413, "application/json")
    assert json.loads(body) == {
        "detail": f"Request body is {settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1} bytes; "
        f"the limit is {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
    }
    with urllib.request.urlopen(f"{server_url}/blog/posts", timeout=10) as after:
        assert after.status == 200
        assert json.load(after)["count"] == 0

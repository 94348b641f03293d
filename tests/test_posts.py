from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from blog.models import Post

from .helpers import post_json

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


def test_tutorial_urls_are_the_public_url_contract():
    assert reverse("login") == "/login/"
    assert reverse("blog:post-list") == "/blog/posts"
    assert reverse("blog:post-detail", kwargs={"pk": 7}) == "/blog/post/7"
    assert reverse("blog:post-create") == "/blog/create"
    assert reverse("blog:comment-list") == "/blog/comments"
    assert reverse("blog:comment-detail", kwargs={"pk": 7}) == "/blog/comment/7"
    assert reverse("blog:comment-create", kwargs={"pk": 7}) == "/blog/post/7/comment/create"
    assert reverse("blog:post-comment-list", kwargs={"pk": 7}) == "/blog/post/7/comments"
    assert reverse("health") == "/health"
    assert reverse("schema") == "/api/schema/"
    assert reverse("docs") == "/api/docs/"


def test_a_read_url_with_a_trailing_slash_redirects_to_the_url_without(api_client, db):
    response = api_client.get("/blog/posts/?limit=5")

    assert response.status_code == 301
    assert response["Location"] == "/blog/posts?limit=5"


def test_a_write_url_with_a_trailing_slash_is_404_naming_the_url_without(auth_client):
    response = auth_client.post("/blog/create/", {"title": "t", "body": "b"}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found. Did you mean /blog/create (no slash at the end)?"}


def test_an_unknown_url_with_a_trailing_slash_is_a_plain_404(api_client, db):
    response = api_client.get("/blog/nothing/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_the_landing_page_names_the_docs_the_schema_the_endpoints_and_the_demo_login(api_client):
    response = api_client.get("/")

    assert response.status_code == 200
    landing = response.json()
    assert landing["docs"] == "http://testserver/api/docs/"
    assert landing["schema"] == "http://testserver/api/schema/"
    assert landing["demo_login"]["username"] == "seed_user_1"
    assert landing["demo_login"]["password"].startswith("seed-password-local-only")
    documented = {
        f"{method.upper()} {path}"
        for path, operations in api_client.get("/api/schema/", {"format": "json"}).json()["paths"].items()
        for method in operations
    }
    assert set(landing["endpoints"]) == documented


def test_post_list_is_a_page_of_posts_with_absolute_urls_and_authors(api_client, make_post):
    post = make_post(title="Hello", body="World")

    response = api_client.get(reverse("blog:post-list"))

    assert response.status_code == 200
    assert response.json() == {"count": 1, "next": None, "previous": None, "results": [post_json(post)]}


def test_empty_post_list_is_an_empty_page(api_client, db):
    response = api_client.get(reverse("blog:post-list"))

    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_post_list_is_newest_first(api_client, make_post):
    older, newer = make_post(title="older"), make_post(title="newer")
    # The lower id is the newer post, so only created_at can put it first.
    Post.objects.filter(pk=older.pk).update(created_at=timezone.now() + timedelta(hours=1))

    response = api_client.get(reverse("blog:post-list"))

    assert [post["id"] for post in response.json()["results"]] == [older.pk, newer.pk]


def test_post_list_breaks_created_at_ties_by_newest_id(api_client, make_post):
    posts = [make_post(title=str(number)) for number in range(3)]
    Post.objects.update(created_at=timezone.now())

    response = api_client.get(reverse("blog:post-list"))

    assert [post["id"] for post in response.json()["results"]] == [post.pk for post in reversed(posts)]


def test_post_list_pages_hold_20_by_default_with_absolute_next_link(api_client, make_post):
    for number in range(21):
        make_post(title=str(number))

    response = api_client.get(reverse("blog:post-list"))

    body = response.json()
    assert (body["count"], len(body["results"])) == (21, 20)
    assert body["next"] == "http://testserver/blog/posts?limit=20&offset=20"
    assert body["previous"] is None


def test_post_list_limit_and_offset_select_a_page(api_client, make_post):
    posts = [make_post(title=str(number)) for number in range(5)]

    response = api_client.get(reverse("blog:post-list"), {"limit": 2, "offset": 2})

    body = response.json()
    assert [post["id"] for post in body["results"]] == [posts[2].pk, posts[1].pk]
    assert body["next"] == "http://testserver/blog/posts?limit=2&offset=4"
    assert body["previous"] == "http://testserver/blog/posts?limit=2"


def test_post_list_limit_is_capped_at_100(api_client, user):
    Post.objects.bulk_create(Post(title=str(number), body="b", user=user) for number in range(101))

    response = api_client.get(reverse("blog:post-list"), {"limit": 1000})

    body = response.json()
    assert (body["count"], len(body["results"])) == (101, 100)


def test_post_detail_is_one_post(api_client, make_post):
    post = make_post(title="Hello", body="World")

    response = api_client.get(reverse("blog:post-detail", kwargs={"pk": post.pk}))

    assert response.status_code == 200
    assert response.json() == post_json(post)


def test_missing_post_is_404_json(api_client, db):
    response = api_client.get(reverse("blog:post-detail", kwargs={"pk": 999}))

    assert response.status_code == 404
    assert response.json() == {"detail": "No Post matches the given query."}


@pytest.mark.parametrize("url_name", ["blog:post-list", "blog:comment-list"])
def test_reading_with_a_bad_token_is_401_asking_for_a_token(api_client, db, url_name):
    response = api_client.get(reverse(url_name), HTTP_AUTHORIZATION="Token not-a-real-token")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Invalid token."}


def test_create_post_is_201_with_the_callers_id_and_stores_it(auth_client, user):
    response = auth_client.post(reverse("blog:post-create"), {"title": "Hi", "body": "There"}, format="json")

    assert response.status_code == 201
    post = Post.objects.get()
    assert response.json() == {"id": post.pk, "title": "Hi", "body": "There", "user": user.pk}
    assert (post.title, post.body, post.user) == ("Hi", "There", user)


def test_create_post_accepts_a_form_encoded_body(auth_client, user):
    response = auth_client.post(reverse("blog:post-create"), {"title": "Hi", "body": "There"})

    assert response.status_code == 201
    assert Post.objects.get().title == "Hi"


def test_created_post_is_first_in_the_list(auth_client, make_post):
    make_post(title="old")
    auth_client.post(reverse("blog:post-create"), {"title": "new", "body": "b"}, format="json")

    response = auth_client.get(reverse("blog:post-list"))

    assert [post["title"] for post in response.json()["results"]] == ["new", "old"]


def test_create_post_without_token_is_401_asking_for_a_token(api_client, db):
    response = api_client.post(reverse("blog:post-create"), {"title": "Hi", "body": "There"}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert not Post.objects.exists()


@pytest.mark.parametrize("header", ["Token not-a-real-token", "Token", "Token a b", "Bearer abc"])
def test_create_post_with_bad_token_is_401_asking_for_a_token(api_client, db, header):
    response = api_client.post(
        reverse("blog:post-create"), {"title": "Hi", "body": "There"}, format="json", HTTP_AUTHORIZATION=header
    )

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert set(response.json()) == {"detail"}
    assert not Post.objects.exists()

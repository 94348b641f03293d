from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from blog.models import Comment

from .helpers import comment_json

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


def test_comment_list_is_a_page_of_comments_with_author_and_post(api_client, make_user, make_post, make_comment):
    commenter = make_user(username="bob")
    comment = make_comment(post=make_post(title="On this"), body="Nice", author=commenter)

    response = api_client.get(reverse("blog:comment-list"))

    assert response.status_code == 200
    assert response.json() == {"count": 1, "next": None, "previous": None, "results": [comment_json(comment)]}
    assert response.json()["results"][0]["user"] == {"id": commenter.pk, "username": "bob"}


def test_comment_list_is_newest_first_with_ties_broken_by_newest_id(api_client, make_post, make_comment):
    post = make_post()
    oldest, tied_low, tied_high = (make_comment(post=post, body=str(number)) for number in range(3))
    now = timezone.now()
    Comment.objects.filter(pk=oldest.pk).update(created_at=now - timedelta(hours=1))
    Comment.objects.exclude(pk=oldest.pk).update(created_at=now)

    response = api_client.get(reverse("blog:comment-list"))

    assert [comment["id"] for comment in response.json()["results"]] == [tied_high.pk, tied_low.pk, oldest.pk]


def test_comment_detail_is_one_comment(api_client, make_comment):
    comment = make_comment(body="Nice")

    response = api_client.get(reverse("blog:comment-detail", kwargs={"pk": comment.pk}))

    assert response.status_code == 200
    assert response.json() == comment_json(comment)


def test_missing_comment_is_404_json(api_client, db):
    response = api_client.get(reverse("blog:comment-detail", kwargs={"pk": 999}))

    assert response.status_code == 404
    assert response.json() == {"detail": "No Comment matches the given query."}


def test_post_comments_are_a_page_of_that_posts_comments_only(api_client, make_post, make_comment):
    post, other = make_post(title="this"), make_post(title="other")
    first, second = make_comment(post=post, body="1"), make_comment(post=post, body="2")
    make_comment(post=other)

    response = api_client.get(reverse("blog:post-comment-list", kwargs={"pk": post.pk}))

    assert response.status_code == 200
    assert response.json() == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [comment_json(second), comment_json(first)],
    }


def test_post_without_comments_has_an_empty_page(api_client, make_post):
    post = make_post()

    response = api_client.get(reverse("blog:post-comment-list", kwargs={"pk": post.pk}))

    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_comments_of_missing_post_are_404_json(api_client, db):
    response = api_client.get(reverse("blog:post-comment-list", kwargs={"pk": 999}))

    assert response.status_code == 404
    assert response.json() == {"detail": "No post with this id."}


def test_post_comments_past_the_last_page_are_an_empty_page_not_404(api_client, make_comment):
    comment = make_comment()

    response = api_client.get(reverse("blog:post-comment-list", kwargs={"pk": comment.post_id}), {"offset": 5})

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_create_comment_is_201_on_the_posts_and_stores_it(auth_client, user, make_post):
    post = make_post()

    response = auth_client.post(reverse("blog:comment-create", kwargs={"pk": post.pk}), {"body": "Hi"}, format="json")

    assert response.status_code == 201
    comment = Comment.objects.get()
    assert response.json() == {"id": comment.pk, "post": post.pk, "body": "Hi", "user": user.pk}
    assert (comment.post, comment.body, comment.user) == (post, "Hi", user)


def test_created_comment_is_first_in_the_posts_comments(auth_client, make_post, make_comment):
    post = make_post()
    make_comment(post=post, body="old")
    auth_client.post(reverse("blog:comment-create", kwargs={"pk": post.pk}), {"body": "new"}, format="json")

    response = auth_client.get(reverse("blog:post-comment-list", kwargs={"pk": post.pk}))

    assert [comment["body"] for comment in response.json()["results"]] == ["new", "old"]


def test_create_comment_on_missing_post_is_404_json(auth_client, db):
    response = auth_client.post(reverse("blog:comment-create", kwargs={"pk": 999}), {"body": "Hi"}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": "No post with this id."}
    assert not Comment.objects.exists()


def test_create_comment_without_token_is_401_asking_for_a_token(api_client, make_post):
    post = make_post()

    response = api_client.post(reverse("blog:comment-create", kwargs={"pk": post.pk}), {"body": "Hi"}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert not Comment.objects.exists()


def test_create_comment_with_bad_token_is_401_asking_for_a_token(api_client, make_post):
    post = make_post()

    response = api_client.post(
        reverse("blog:comment-create", kwargs={"pk": post.pk}),
        {"body": "Hi"},
        format="json",
        HTTP_AUTHORIZATION="Token not-a-real-token",
    )

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Invalid token."}
    assert not Comment.objects.exists()

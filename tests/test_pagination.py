"""blog.pagination: DRF's limit/offset pages, counted in the page's own statement."""
from urllib import parse

import pytest
from django.urls import reverse
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from blog.models import Comment, Post
from blog.pagination import BlogLimitOffsetPagination, encode_query

from .helpers import TIED_ROWS


@pytest.mark.parametrize(("url", "model"), [("/blog/posts", Post), ("/blog/comments", Comment)])
@pytest.mark.parametrize(("offset", "queries"), [(0, 1), (24, 1), (26, 2), (40, 2)])
def test_a_near_page_carries_its_count_and_past_the_end_the_count_is_read_alone(
    api_client, tied_posts_and_comments, django_assert_num_queries, url, model, offset, queries
):
    with django_assert_num_queries(queries):
        page = api_client.get(url, {"limit": 5, "offset": offset}).json()

    expected = list(model.objects.order_by("-created_at", "-id").values_list("id", flat=True))
    assert page["count"] == TIED_ROWS
    assert [row["id"] for row in page["results"]] == expected[offset:offset + 5]
    keys = {key for row in page["results"] for key in row}
    assert keys <= {"id", "url", "title", "body", "created_at", "user", "post"}


@pytest.mark.parametrize(("offset", "queries"), [(0, 1), (4, 1), (6, 3), (10, 3)])
def test_a_posts_comments_carry_their_count_and_past_the_end_it_is_read_alone(
    api_client, tied_posts_and_comments, django_assert_num_queries, offset, queries
):
    post = Post.objects.order_by("pk").first()  # 6 of the 26 comments; the others are on 4 other posts
    url = reverse("blog:post-comment-list", kwargs={"pk": post.pk})

    # Past the end: the page, the count on its own, and whether the post exists.
    with django_assert_num_queries(queries):
        page = api_client.get(url, {"limit": 5, "offset": offset}).json()

    expected = list(Comment.objects.filter(post=post).order_by("-created_at", "-id").values_list("id", flat=True))
    assert page["count"] == len(expected) == 6
    assert [row["id"] for row in page["results"]] == expected[offset:offset + 5]


@pytest.mark.parametrize(
    "query",
    ["", "?limit=20", "?limit=5&offset=3", "?offset=10&limit=5&x=1&x=2&empty=", "?offset=40&limit=20&format=json",
     "?q=a+b&tag=%C3%A9t%C3%A9&path=/x/y&amp=%26&plus=%2B&tilde=~_.-", "?%E2%9C%93=1&sp%20ace=&limit=5"],
)
@pytest.mark.parametrize(("offset", "count"), [(0, 100), (3, 100), (5, 100), (10, 100), (40, 45), (95, 100)])
def test_next_and_previous_links_equal_drfs(query, offset, count):
    request = Request(APIRequestFactory().get(f"/blog/posts{query}"))
    links = []
    for paginator in (LimitOffsetPagination(), BlogLimitOffsetPagination()):
        paginator.request, paginator.limit, paginator.offset, paginator.count = request, 5, offset, count
        links.append((paginator.get_next_link(), paginator.get_previous_link()))

    assert links[0] == links[1]


def test_remembered_links_are_each_requests_own_host_scheme_and_path(settings):
    settings.ALLOWED_HOSTS = ["a.example", "b.example"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    requests = [
        APIRequestFactory().get(path, {"limit": 5}, HTTP_HOST=host, HTTP_X_FORWARDED_PROTO=scheme)
        for path in ("/blog/posts", "/blog/comments") for host in ("a.example", "b.example:8443")
        for scheme in ("http", "https")
    ]
    seen = set()
    for _ in range(2):  # the second time round, every link is a remembered one
        for request in requests:
            links = []
            for paginator in (LimitOffsetPagination(), BlogLimitOffsetPagination()):
                paginator.request, paginator.limit, paginator.offset, paginator.count = Request(request), 5, 10, 100
                links.append((paginator.get_next_link(), paginator.get_previous_link()))
            assert links[0] == links[1]
            seen.add(links[1])
    assert len(seen) == len(requests)


@pytest.mark.parametrize("items", [
    [], [("limit", ["20"]), ("offset", ["40"])], [("x", ["1", "2"]), ("empty", [""])],
    [("q", ["a b"]), ("tag", ["été"]), ("path", ["/x/y"]), ("amp", ["&"]), ("plus", ["+"]), ("t", ["~_.-"])],
    [("✓", ["1"]), ("sp ace", [""]), ("Ab9", ["\x00%#?="])],
])
def test_a_links_query_is_encoded_as_urlencode_encodes_it(items):
    assert encode_query(items) == parse.urlencode(items, doseq=True)


def test_counts_of_different_lists_are_kept_apart(api_client, make_post, make_comment):
    first, second = make_post(), make_post()
    make_comment(post=first), make_comment(post=first), make_comment(post=second)

    def count(url):
        return api_client.get(url).json()["count"]

    assert count("/blog/posts") == 2
    assert count("/blog/comments") == 3
    assert count(reverse("blog:post-comment-list", kwargs={"pk": first.pk})) == 2
    assert count(reverse("blog:post-comment-list", kwargs={"pk": second.pk})) == 1

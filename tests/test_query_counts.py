"""Every endpoint runs a fixed number of queries, whatever the number of rows on the page."""
import pytest
from django.urls import reverse

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

ROW_COUNTS = [3, 30]


@pytest.fixture
def many_authors(make_user):
    return [make_user(username=f"author{number}") for number in range(3)]


@pytest.fixture
def make_posts(make_post, many_authors):
    def make_posts(count):
        return [make_post(title=str(number), author=many_authors[number % 3]) for number in range(count)]

    return make_posts


@pytest.fixture
def make_comments(make_post, make_comment, many_authors):
    """`count` comments on one post by different authors, and the same number spread over other posts."""

    def make_comments(count):
        post = make_post()
        for number in range(count):
            author = many_authors[number % 3]
            make_comment(post=post, author=author)
            make_comment(post=make_post(author=author), author=author)
        return post

    return make_comments


@pytest.mark.parametrize("rows", ROW_COUNTS)
def test_post_list_runs_1_query(api_client, make_posts, django_assert_num_queries, rows):
    make_posts(rows)

    # The count is read in the page's statement (BlogLimitOffsetPagination.paginate_statement).
    with django_assert_num_queries(1):
        response = api_client.get(reverse("blog:post-list"))

    assert len(response.json()["results"]) == min(rows, 20)
    assert response.json()["count"] == rows


@pytest.mark.parametrize("rows", ROW_COUNTS)
def test_post_detail_runs_1_query(api_client, make_posts, django_assert_num_queries, rows):
    post = make_posts(rows)[-1]

    with django_assert_num_queries(1):
        response = api_client.get(reverse("blog:post-detail", kwargs={"pk": post.pk}))

    assert response.status_code == 200


@pytest.mark.parametrize("rows", ROW_COUNTS)
def test_comment_list_runs_1_query(api_client, make_comments, django_assert_num_queries, rows):
    make_comments(rows)

    with django_assert_num_queries(1):
        response = api_client.get(reverse("blog:comment-list"), {"limit": 100})

    assert len(response.json()["results"]) == 2 * rows
    assert response.json()["count"] == 2 * rows


@pytest.mark.parametrize("rows", ROW_COUNTS)
def test_comment_detail_runs_1_query(api_client, make_comments, django_assert_num_queries, rows):
    comment = make_comments(rows).comments.last()

    with django_assert_num_queries(1):
        response = api_client.get(reverse("blog:comment-detail", kwargs={"pk": comment.pk}))

    assert response.status_code == 200


@pytest.mark.parametrize("rows", ROW_COUNTS)
def test_post_comment_list_runs_1_query(api_client, make_comments, django_assert_num_queries, rows):
    post = make_comments(rows)

    # The post's comments are counted in the page's statement.
    with django_assert_num_queries(1):
        response = api_client.get(reverse("blog:post-comment-list", kwargs={"pk": post.pk}), {"limit": 100})

    assert len(response.json()["results"]) == rows
    assert response.json()["count"] == rows


@pytest.mark.parametrize("rows", ROW_COUNTS)
def test_create_post_runs_2_queries(auth_client, make_posts, django_assert_num_queries, rows):
    make_posts(rows)

    with django_assert_num_queries(2):
        response = auth_client.post(reverse("blog:post-create"), {"title": "t", "body": "b"}, format="json")

    assert response.status_code == 201


@pytest.mark.parametrize("rows", ROW_COUNTS)
def test_create_comment_runs_3_queries(auth_client, make_comments, django_assert_num_queries, rows):
    url = reverse("blog:comment-create", kwargs={"pk": make_comments(rows).pk})

    with django_assert_num_queries(3):
        response = auth_client.post(url, {"body": "b"}, format="json")

    assert response.status_code == 201

"""blog.reads: the fast read path answers exactly what DRF's generic views answer, or lets them answer.

Each test extends a read view the way DRF's documentation shows and compares the
answer with DRF's own generic view (DRF's LimitOffsetPagination, model instances,
the serializer's declared fields) for the same queryset and serializer.
"""
import logging

import pytest
from django.db.models import Count, F
from django.urls import reverse
from django.test.utils import override_script_prefix
from django.utils import timezone
from rest_framework import filters, generics, permissions, serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.versioning import NamespaceVersioning

from blog.models import Comment, Post
from blog.pagination import BlogLimitOffsetPagination
from blog.reads import get_plan
from blog.serializers import CommentSerializer, PostSerializer
from blog.views import CommentDetail, CommentList, PostCommentList, PostDetail, PostList

pytestmark = pytest.mark.django_db
SHIPPED = [PostList, PostDetail, CommentList, CommentDetail, PostCommentList]


class DRFPagination(LimitOffsetPagination):
    default_limit = 20
    max_limit = 100


def drf_list(queryset, serializer_class, **attributes):
    """DRF's own ListAPIView for this queryset and serializer: what the fast path must equal."""
    return type("DRFList", (generics.ListAPIView,), {
        "queryset": queryset, "serializer_class": serializer_class, "pagination_class": DRFPagination,
        **attributes,
    })


def drf_detail(queryset, serializer_class, **attributes):
    return type("DRFDetail", (generics.RetrieveAPIView,), {
        "queryset": queryset, "serializer_class": serializer_class, **attributes,
    })


def subclass(view_class, **attributes):
    return type(f"My{view_class.__name__}", (view_class,), attributes)


def answer(view_class, path, user=None, **kwargs):
    """The status and rendered bytes of view_class for GET path."""
    request = APIRequestFactory().get(path)
    if user is not None:
        force_authenticate(request, user=user)
    response = view_class.as_view()(request, **kwargs)
    response.render()
    return response.status_code, response.content


def assert_same_answers(ours, drf, paths, **kwargs):
    for path in paths:
        assert answer(ours, path, **kwargs) == answer(drf, path, **kwargs), path


@pytest.fixture
def deep_pages_from(monkeypatch):
    """Make offsets from `offset` on take the deep-page path, so a few rows exercise it."""
    def deep_pages_from(offset):
        monkeypatch.setattr(BlogLimitOffsetPagination, "deferred_join_offset", offset)
    return deep_pages_from


PAGES = ["/blog/posts", "/blog/posts?limit=5", "/blog/posts?limit=5&offset=3",
         "/blog/posts?limit=4&offset=20", "/blog/posts?limit=3&offset=25", "/blog/posts?offset=40",
         "/blog/posts?limit=-1&offset=x"]


def test_every_shipped_read_view_takes_the_fast_path():
    assert all(get_plan(view) is not None for view in SHIPPED)


@pytest.mark.parametrize("deep_from", [1_000, 2])
def test_the_shipped_lists_answer_what_drfs_list_answers(tied_posts_and_comments, deep_pages_from, deep_from):
    posts, comments = tied_posts_and_comments
    deep_pages_from(deep_from)

    assert_same_answers(PostList, drf_list(Post.objects.with_author(), PostSerializer), PAGES)
    comment_pages = [path.replace("posts", "comments") for path in PAGES]
    assert_same_answers(CommentList, drf_list(Comment.objects.with_related(), CommentSerializer), comment_pages)
    post = posts[0]
    on_post = drf_list(Comment.objects.with_related().filter(post=post), CommentSerializer)
    url = reverse("blog:post-comment-list", kwargs={"pk": post.pk})
    assert_same_answers(PostCommentList, on_post, [url, f"{url}?limit=2&offset=1", f"{url}?offset=9"], pk=post.pk)


def test_the_shipped_details_answer_what_drfs_detail_answers(tied_posts_and_comments):
    posts, comments = tied_posts_and_comments
    for view, drf, pk in [
        (PostDetail, drf_detail(Post.objects.with_author(), PostSerializer), posts[3].pk),
        (CommentDetail, drf_detail(Comment.objects.with_related(), CommentSerializer), comments[3].pk),
        (PostDetail, drf_detail(Post.objects.with_author(), PostSerializer), 10**9),
    ]:
        assert answer(view, f"/blog/x/{pk}", pk=pk) == answer(drf, f"/blog/x/{pk}", pk=pk)


def test_a_get_queryset_scoped_to_the_user_hides_other_users_posts(make_user, make_post):
    owner, other = make_user(username="owner"), make_user(username="other")
    post = make_post(author=owner)

    def get_queryset(self):
        return super(type(self), self).get_queryset().filter(user_id=self.request.user.id)

    mine_only = subclass(PostDetail, get_queryset=get_queryset)

    assert answer(mine_only, "/", user=other, pk=post.pk)[0] == 404
    assert answer(mine_only, "/", user=owner, pk=post.pk)[0] == 200


class IsAuthor(permissions.BasePermission):
    def has_object_permission(self, request, view, obj):
        return obj.user_id == request.user.id


def test_an_object_permission_receives_the_model_instance(make_user, make_post):
    owner, other = make_user(username="owner"), make_user(username="other")
    post = make_post(author=owner)
    authors_only = subclass(PostDetail, permission_classes=[IsAuthor])

    assert answer(authors_only, "/", user=other, pk=post.pk)[0] == 403
    assert answer(authors_only, "/", user=owner, pk=post.pk)[0] == 200


@pytest.mark.parametrize("deep_from", [1_000, 2])
def test_a_narrowed_get_queryset_narrows_every_page_and_its_count(tied_posts_and_comments, deep_pages_from, deep_from):
    deep_pages_from(deep_from)
    narrowed = Post.objects.with_author().exclude(title__endswith="3")

    def get_queryset(self):
        return super(type(self), self).get_queryset().exclude(title__endswith="3")

    assert_same_answers(subclass(PostList, get_queryset=get_queryset), drf_list(narrowed, PostSerializer), PAGES)


@pytest.mark.parametrize("deep_from", [1_000, 2])
def test_a_class_level_queryset_is_the_one_listed(tied_posts_and_comments, deep_pages_from, deep_from):
    deep_pages_from(deep_from)
    narrowed = Post.objects.with_author().filter(user__username="ann")

    assert_same_answers(subclass(PostList, queryset=narrowed), drf_list(narrowed, PostSerializer), PAGES)


def test_a_get_queryset_with_a_per_request_value_is_evaluated_per_request(make_post, deep_pages_from):
    make_post(title="Before")

    def get_queryset(self):
        return super(type(self), self).get_queryset().filter(created_at__lte=timezone.now())

    up_to_now = subclass(PostList, get_queryset=get_queryset)
    assert answer(up_to_now, "/blog/posts")[1].count(b'"title"') == 1
    make_post(title="After")
    assert answer(up_to_now, "/blog/posts")[1].count(b'"title"') == 2


@pytest.mark.parametrize("view", [PostList, CommentList])
def test_filter_backends_filter_the_list(tied_posts_and_comments, view):
    search = [filters.SearchFilter, filters.OrderingFilter]
    queryset = view.queryset
    ours = subclass(view, filter_backends=search, search_fields=["body"], ordering_fields=["id"])
    drf = drf_list(queryset, view.serializer_class, filter_backends=search, search_fields=["body"],
                   ordering_fields=["id"])

    assert_same_answers(ours, drf, ["/x?search=Comment%201", "/x?ordering=id&limit=3", "/x?search=nothing"])


def test_filter_backends_filter_a_posts_comments(tied_posts_and_comments):
    post = tied_posts_and_comments[0][0]
    ours = subclass(PostCommentList, filter_backends=[filters.OrderingFilter], ordering_fields=["id"])
    drf = drf_list(Comment.objects.with_related().filter(post=post), CommentSerializer,
                   filter_backends=[filters.OrderingFilter], ordering_fields=["id"])

    assert_same_answers(ours, drf, ["/x?ordering=id", "/x?ordering=-id&limit=2"], pk=post.pk)


@pytest.mark.urls("tests.urls_extended")
def test_format_suffixes_answer_and_stay_in_links(api_client, make_comment):
    comment = make_comment()
    post_url = reverse("blog:post-detail", kwargs={"pk": comment.post_id, "format": "json"})

    listed = api_client.get("/blog/posts.json")
    detail = api_client.get(post_url)

    assert listed.status_code == detail.status_code == 200
    assert listed.json()["results"][0]["url"] == f"http://testserver{post_url}"
    assert detail.json()["url"] == f"http://testserver{post_url}"
    assert api_client.get(f"/blog/post/{comment.post_id}/comments.json").json()["count"] == 1


def test_the_format_query_parameter_stays_in_links(api_client, make_comment):
    comment = make_comment()

    listed = api_client.get("/blog/comments?format=json").json()["results"]
    drf = answer(drf_list(Comment.objects.with_related(), CommentSerializer), "/blog/comments?format=json")

    assert listed[0]["url"].endswith(f"/blog/comment/{comment.pk}?format=json")
    assert answer(CommentList, "/blog/comments?format=json") == drf


@pytest.mark.urls("tests.urls_extended")
def test_url_versioning_reverses_links_in_the_requests_version(make_post):
    post = make_post()
    versioned = {"versioning_class": NamespaceVersioning}

    for view, drf, path, kwargs in [
        (PostList, drf_list(Post.objects.with_author(), PostSerializer), "/v1/blog/posts", {"version": "v1"}),
        (PostDetail, drf_detail(Post.objects.with_author(), PostSerializer), f"/v2/blog/post/{post.pk}",
         {"version": "v2", "pk": post.pk}),
    ]:
        request = APIRequestFactory().get(path)
        request.resolver_match = type("Match", (), {"namespace": f"{kwargs['version']}"})
        ours_answer = answer(subclass(view, **versioned), path, **kwargs)
        assert ours_answer == answer(subclass(drf, **versioned), path, **kwargs)


class Computed(PostSerializer):
    shout = serializers.SerializerMethodField()

    class Meta(PostSerializer.Meta):
        fields = [*PostSerializer.Meta.fields, "shout"]

    def get_shout(self, obj):
        return obj.title.upper()


def test_a_field_added_to_the_serializer_is_in_the_json(make_post):
    post = make_post(title="Hello")

    class WithTitleAgain(PostSerializer):
        title_again = serializers.CharField(source="title", read_only=True)

        class Meta(PostSerializer.Meta):
            fields = [*PostSerializer.Meta.fields, "title_again"]

    class IdAsText(PostSerializer):
        id_text = serializers.CharField(source="id", read_only=True)

        class Meta(PostSerializer.Meta):
            fields = [*PostSerializer.Meta.fields, "id_text"]

    class Shorter(PostSerializer):
        class Meta(PostSerializer.Meta):
            fields = ["id", "title"]

    for serializer_class in [WithTitleAgain, IdAsText, Shorter, Computed]:
        ours = subclass(PostList, serializer_class=serializer_class)
        drf = drf_list(Post.objects.with_author(), serializer_class)
        assert answer(ours, "/blog/posts") == answer(drf, "/blog/posts")
        detail = subclass(PostDetail, serializer_class=serializer_class)
        assert answer(detail, "/", pk=post.pk) == answer(drf_detail(Post.objects.all(), serializer_class), "/", pk=post.pk)
    shorter = answer(subclass(PostList, serializer_class=Shorter), "/blog/posts")[1]
    assert shorter.endswith(b'"results":[{"id":%d,"title":"Hello"}]}' % post.pk)


def test_the_read_serializers_serialize_instances_and_validate_writes(make_post, user):
    post = make_post(title="Old")
    editable = type("PostEdit", (generics.RetrieveUpdateAPIView,), {
        "queryset": Post.objects.with_author(), "serializer_class": PostSerializer,
    })
    request = APIRequestFactory().put("/", {"title": "New", "body": "Body"}, format="json")
    force_authenticate(request, user=user)

    response = editable.as_view()(request, pk=post.pk)

    assert response.status_code == 200, response.data
    assert response.data["title"] == "New"
    assert response.data["url"] == f"http://testserver/blog/post/{post.pk}"
    assert Post.objects.get(pk=post.pk).title == "New"


def test_the_pagination_class_pages_a_plain_list_as_drfs_does():
    request = APIRequestFactory().get("/x?limit=3&offset=2")
    ours, drf = BlogLimitOffsetPagination(), DRFPagination()
    pages = [paginator.paginate_queryset(list(range(10)), Request(request)) for paginator in (ours, drf)]

    assert pages[0] == pages[1] == [2, 3, 4]
    assert ours.get_paginated_response(pages[0]).data == drf.get_paginated_response(pages[1]).data


def test_the_pagination_class_pages_a_union_deep_in_as_drfs_does(tied_posts_and_comments, deep_pages_from):
    deep_pages_from(2)
    ones, twos = (Post.objects.filter(title__endswith=end).order_by() for end in "12")
    union = ones.union(twos).order_by("-id")
    ours = drf_list(union, PostSerializer, pagination_class=BlogLimitOffsetPagination)

    assert_same_answers(ours, drf_list(union, PostSerializer), ["/x?limit=2&offset=3", "/x?offset=1"])


def test_a_nullable_relation_or_method_field_sends_the_view_down_drfs_path(caplog):
    with caplog.at_level(logging.INFO, logger="blog.reads"):
        assert get_plan(subclass(PostList, serializer_class=Computed)) is None
        assert get_plan(subclass(PostList, filter_backends=[filters.SearchFilter])) is None
        assert get_plan(subclass(PostDetail, permission_classes=[IsAuthor])) is None
        assert get_plan(subclass(PostDetail, lookup_field="title")) is None
        assert get_plan(subclass(PostList, pagination_class=DRFPagination)) is None
    assert "MyPostList is answered by DRF's own path: its serializer has a field" in caplog.text
    assert "it has filter backends" in caplog.text
    assert "may check objects" in caplog.text
    assert "lookup_field 'title' is not a unique integer column" in caplog.text


@pytest.mark.parametrize("deep_from", [1_000, 2])
@pytest.mark.parametrize("annotation", [F("id"), F("comments__id"), Count("comments")],
                         ids=["same rows", "a row per comment", "grouped"])
def test_an_annotated_queryset_keeps_its_count_and_rows(tied_posts_and_comments, deep_pages_from, deep_from,
                                                        annotation):
    deep_pages_from(deep_from)
    annotated = Post.objects.with_author().annotate(extra=annotation)

    assert_same_answers(subclass(PostList, queryset=annotated), drf_list(annotated, PostSerializer), PAGES)


@pytest.mark.parametrize("host", ["testserver", "api.example.com:8080"])
def test_url_field_equals_the_reverse_result(api_client, make_comment, host, settings):
    settings.ALLOWED_HOSTS = ["testserver", "api.example.com"]
    comment = make_comment()
    post = comment.post

    def absolute(name, pk):
        return f"http://{host}" + reverse(name, kwargs={"pk": pk})

    with_host = {"HTTP_HOST": host}
    posts = api_client.get("/blog/posts", **with_host).json()["results"]
    assert [p["url"] for p in posts] == [absolute("blog:post-detail", post.pk)]
    detail = api_client.get(reverse("blog:post-detail", kwargs={"pk": post.pk}), **with_host).json()
    assert detail["url"] == absolute("blog:post-detail", post.pk)
    comments = api_client.get("/blog/comments", **with_host).json()["results"]
    assert [c["url"] for c in comments] == [absolute("blog:comment-detail", comment.pk)]


@pytest.mark.parametrize("host", ["a.example.com", "b.example.com"])
def test_url_template_is_not_carried_from_one_request_to_the_next(api_client, make_post, host, settings):
    settings.ALLOWED_HOSTS = ["a.example.com", "b.example.com"]
    make_post(), make_post()
    urls = [p["url"] for p in api_client.get("/blog/posts", HTTP_HOST=host).json()["results"]]
    assert all(url.startswith(f"http://{host}/blog/post/") for url in urls)


def test_links_follow_each_requests_scheme_script_prefix_and_format(api_client, make_post):
    """The link templates are remembered per scheme, host, script prefix and ?format=:
    requests that differ in any of them, one after another, each get their own links."""
    post = make_post()
    requests = [({}, "http://testserver/blog/post/{}"),
                ({"secure": True}, "https://testserver/blog/post/{}"),
                ({"script_prefix": "/api/"}, "http://testserver/api/blog/post/{}"),
                ({"data": {"format": "json"}}, "http://testserver/blog/post/{}?format=json"),
                ({"data": {"format": ""}}, "http://testserver/blog/post/{}?format="),
                ({}, "http://testserver/blog/post/{}")]
    for extra, expected in [(dict(extra), expected) for extra, expected in requests * 2]:
        # Django's test client leaves the script prefix alone; a WSGI server sets it per request.
        with override_script_prefix(extra.pop("script_prefix", "/")):
            listed = api_client.get("/blog/posts", **extra).json()["results"][0]["url"]
            detail = api_client.get(f"/blog/post/{post.pk}", **extra).json()["url"]
        assert listed == detail == expected.format(post.pk), extra



@pytest.mark.parametrize("deep_from", [1_000, 2])
def test_a_filter_across_a_reverse_relation_keeps_its_count_and_rows(tied_posts_and_comments, deep_pages_from,
                                                                     deep_from):
    deep_pages_from(deep_from)
    filtered = Post.objects.with_author().filter(comments__body__startswith="Comment")

    assert_same_answers(subclass(PostList, queryset=filtered), drf_list(filtered, PostSerializer), PAGES)


def test_attributes_given_to_as_view_are_the_ones_used(tied_posts_and_comments):
    narrowed = Post.objects.with_author().filter(user__username="ann")

    def answer_of(view):
        response = view(APIRequestFactory().get("/blog/posts?limit=5"))
        response.render()
        return response.status_code, response.content

    assert answer_of(PostList.as_view(queryset=narrowed)) == answer(drf_list(narrowed, PostSerializer),
                                                                      "/blog/posts?limit=5")
    assert answer_of(PostList.as_view(pagination_class=DRFPagination)) == answer(
        drf_list(Post.objects.with_author(), PostSerializer), "/blog/posts?limit=5")


@pytest.mark.parametrize("coerce_setting", [False, True])
def test_big_integers_are_written_as_text_when_drf_would_write_them_so(make_post, settings, coerce_setting):
    post = make_post()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "COERCE_BIGINT_TO_STRING": coerce_setting}

    class IdAsText(PostSerializer):
        id = serializers.BigIntegerField(read_only=True, coerce_to_string=True)

    class IdAsNumber(PostSerializer):
        id = serializers.BigIntegerField(read_only=True, coerce_to_string=False)

    assert type(PostSerializer().fields["id"]) is serializers.BigIntegerField  # the shipped one's id
    for serializer_class in [PostSerializer, IdAsText, IdAsNumber]:
        ours = subclass(PostList, serializer_class=serializer_class)
        assert get_plan(ours) is not None  # the fast path answers, not DRF's
        assert answer(ours, "/blog/posts") == answer(drf_list(Post.objects.with_author(), serializer_class),
                                                     "/blog/posts")
        detail = subclass(PostDetail, serializer_class=serializer_class)
        assert answer(detail, "/", pk=post.pk) == answer(drf_detail(Post.objects.all(), serializer_class), "/",
                                                         pk=post.pk)
    as_text = coerce_setting
    assert (b'"id":"%d"' % post.pk in answer(PostDetail, "/", pk=post.pk)[1]) is as_text


def test_a_query_set_by_a_middleware_is_read_though_the_query_string_is_empty(make_post):
    from django.http import QueryDict

    post = make_post()
    answers = []
    for view_class in (PostDetail, drf_detail(Post.objects.all(), PostSerializer)):
        request = APIRequestFactory().get("/")
        request.GET = QueryDict("format=json")  # as a middleware may set it, QUERY_STRING left empty
        response = view_class.as_view()(request, pk=post.pk)
        response.render()
        answers.append((response.status_code, response.content))
    assert answers[0] == answers[1]
    assert b"?format=json" in answers[0][1]


def test_links_follow_a_change_of_root_urlconf(api_client, make_post, settings):
    post = make_post()
    assert api_client.get(f"/blog/post/{post.pk}").json()["url"] == f"http://testserver/blog/post/{post.pk}"

    settings.ROOT_URLCONF = "tests.urls_mounted"  # as override_settings does: Django clears its URL caches
    assert api_client.get(f"/api/blog/post/{post.pk}").json()["url"] == f"http://testserver/api/blog/post/{post.pk}"

"""The read endpoints as django-ninja's documentation writes them: Schema classes and @paginate.

Ninja's LimitOffsetPagination writes {items, count}; the API's page is DRF's
{count, next, previous, results}, so the paginator is ninja's, given that shape through
the hooks ninja documents for a custom output (`items_attribute`, an `Output` schema).
"""
from datetime import datetime
from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import NinjaAPI, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from benchmarks.peers.links import page_links
from blog.models import Comment, Post

api = NinjaAPI(urls_namespace="blog")


class AuthorOut(Schema):
    id: int
    username: str


class PostSummaryOut(Schema):
    id: int
    title: str


def detail_url(context, name, obj):
    return context["request"].build_absolute_uri(reverse(f"blog:{name}", kwargs={"pk": obj.pk}))


class PostOut(Schema):
    id: int
    url: str
    title: str
    body: str
    created_at: datetime
    user: AuthorOut

    @staticmethod
    def resolve_url(obj, context):
        return detail_url(context, "post-detail", obj)


class CommentOut(Schema):
    id: int
    url: str
    body: str
    created_at: datetime
    user: AuthorOut
    post: PostSummaryOut

    @staticmethod
    def resolve_url(obj, context):
        return detail_url(context, "comment-detail", obj)


class DRFPagination(LimitOffsetPagination):
    """Ninja's limit/offset pages, in DRF's shape."""

    items_attribute = "results"

    class Output(Schema):
        count: int
        next: str | None
        previous: str | None
        results: list[Any]

    def paginate_queryset(self, queryset, pagination, request, **params):
        page = super().paginate_queryset(queryset, pagination, request, **params)
        limit = min(pagination.limit, self.max_limit)
        page["next"], page["previous"] = page_links(
            request.build_absolute_uri(), limit, pagination.offset, page["count"])
        return page


# with_author() and with_related() are the models' select_related() joins.
@api.get("/blog/posts", response=list[PostOut], url_name="post-list")
@paginate(DRFPagination)
def post_list(request):
    return Post.objects.with_author()


@api.get("/blog/post/{pk}", response=PostOut, url_name="post-detail")
def post_detail(request, pk: int):
    return get_object_or_404(Post.objects.with_author(), pk=pk)


@api.get("/blog/comments", response=list[CommentOut], url_name="comment-list")
@paginate(DRFPagination)
def comment_list(request):
    return Comment.objects.with_related()


@api.get("/blog/comment/{pk}", response=CommentOut, url_name="comment-detail")
def comment_detail(request, pk: int):
    return get_object_or_404(Comment.objects.with_related(), pk=pk)


@api.get("/bench/floor")
def floor(request):
    return {"status": "ok"}

"""The read endpoints as django-bolt's documentation writes them: async handlers, Serializers, @paginate.

The page envelope is DRF's {count, next, previous, results}, made the way bolt's
pagination docs show for that shape ("Custom response envelope"), as a msgspec.Struct,
which the docs allow beside a Serializer: with a Serializer envelope, as in the docs'
example, the response validation of django-bolt 0.13.0 drops the items' computed `url`.
A computed field has no request, so `url` is the path alone, where the API writes it absolute.
"""
from datetime import datetime
from typing import Generic, TypeVar

import msgspec
from django_bolt import BoltAPI, LimitOffsetPagination, paginate
from django_bolt.exceptions import NotFound
from django_bolt.serializers import Serializer, computed_field

from benchmarks.peers.links import page_links
from blog.models import Comment, Post

api = BoltAPI()

Item = TypeVar("Item")


class AuthorSerializer(Serializer):
    id: int
    username: str


class PostSummarySerializer(Serializer):
    id: int
    title: str


class PostSerializer(Serializer):
    id: int
    title: str
    body: str
    created_at: datetime
    user: AuthorSerializer

    @computed_field
    def url(self) -> str:
        return f"/blog/post/{self.id}"


class CommentSerializer(Serializer):
    id: int
    body: str
    created_at: datetime
    user: AuthorSerializer
    post: PostSummarySerializer

    @computed_field
    def url(self) -> str:
        return f"/blog/comment/{self.id}"


class DRFPage(msgspec.Struct, Generic[Item]):
    count: int
    next: str | None
    previous: str | None
    results: list[Item]


class DRFPagination(LimitOffsetPagination):
    """Bolt's limit/offset pages in DRF's shape, 20 by default and 100 at most, as the API's."""

    page_size = 20
    max_page_size = 100
    response_class = DRFPage

    def build_response(self, items, *, total, request, limit, offset, **info):
        next_link, previous_link = page_links(request.build_absolute_uri(), limit, offset, total)
        return DRFPage(count=total, next=next_link, previous=previous_link, results=items)


# with_author() and with_related() are the models' select_related() joins.
@api.get("/blog/posts")
@paginate(DRFPagination)
async def post_list(request) -> list[PostSerializer]:
    return Post.objects.with_author()


async def get_or_404(serializer, queryset, pk):
    try:
        return serializer.from_model(await queryset.aget(pk=pk))
    except queryset.model.DoesNotExist:
        raise NotFound(detail="Not found.") from None


@api.get("/blog/post/{pk}")
async def post_detail(pk: int) -> PostSerializer:
    return await get_or_404(PostSerializer, Post.objects.with_author(), pk)


@api.get("/blog/comments")
@paginate(DRFPagination)
async def comment_list(request) -> list[CommentSerializer]:
    return Comment.objects.with_related()


@api.get("/blog/comment/{pk}")
async def comment_detail(pk: int) -> CommentSerializer:
    return await get_or_404(CommentSerializer, Comment.objects.with_related(), pk)


@api.get("/bench/floor")
async def floor():
    return {"status": "ok"}

"""The read endpoints as django-modern-rest's documentation writes them: Controllers and pydantic models.

Models are mapped to schemas by hand, the docs' "Detailed" way, since a URL needs the
request. The docs' limit/offset pagination is Django's Paginator, by page number; the
API's pages are by offset, so the list slices its queryset and counts it, as that does.
"""
import datetime as dt
from http import HTTPStatus
from typing import Generic, TypeVar

import pydantic
from django.urls import reverse
from dmr import APIError, Controller, Path, Query, ResponseSpec, modify
from dmr.errors import ErrorType
from dmr.plugins.pydantic import PydanticSerializer

from benchmarks.peers.links import page_links
from blog.models import Comment, Post

Item = TypeVar("Item")


class AuthorSchema(pydantic.BaseModel):
    id: int
    username: str


class PostSummarySchema(pydantic.BaseModel):
    id: int
    title: str


class PostSchema(pydantic.BaseModel):
    id: int
    url: str
    title: str
    body: str
    created_at: dt.datetime
    user: AuthorSchema


class CommentSchema(pydantic.BaseModel):
    id: int
    url: str
    body: str
    created_at: dt.datetime
    user: AuthorSchema
    post: PostSummarySchema


class PageQuery(pydantic.BaseModel):
    limit: int = pydantic.Field(default=20, ge=1, le=100)
    offset: int = pydantic.Field(default=0, ge=0)


class Page(pydantic.BaseModel, Generic[Item]):
    count: int
    next: str | None
    previous: str | None
    results: list[Item]


class DetailPath(pydantic.BaseModel):
    pk: int


def author(user):
    return AuthorSchema(id=user.pk, username=user.username)


def absolute_url(request, name, pk):
    return request.build_absolute_uri(reverse(f"blog:{name}", kwargs={"pk": pk}))


def post_schema(request, post):
    return PostSchema(id=post.pk, url=absolute_url(request, "post-detail", post.pk), title=post.title,
                      body=post.body, created_at=post.created_at, user=author(post.user))


def comment_schema(request, comment):
    return CommentSchema(id=comment.pk, url=absolute_url(request, "comment-detail", comment.pk),
                         body=comment.body, created_at=comment.created_at, user=author(comment.user),
                         post=PostSummarySchema(id=comment.post.pk, title=comment.post.title))


def page(request, queryset, query, to_schema):
    rows = queryset[query.offset:query.offset + query.limit]
    count = queryset.count()
    next_link, previous_link = page_links(request.build_absolute_uri(), query.limit, query.offset, count)
    return Page(count=count, next=next_link, previous=previous_link,
                results=[to_schema(request, row) for row in rows])


class DetailController(Controller[PydanticSerializer]):
    """What a detail endpoint shares: its 404, declared as the docs declare an error answer."""

    def get_or_404(self, queryset, pk):
        try:
            return queryset.get(pk=pk)
        except queryset.model.DoesNotExist:
            raise APIError(self.format_error("Not found.", error_type=ErrorType.user_msg),
                           status_code=HTTPStatus.NOT_FOUND) from None


NOT_FOUND = [ResponseSpec(Controller.error_model, status_code=HTTPStatus.NOT_FOUND)]


# with_author() and with_related() are the models' select_related() joins.
class PostListController(Controller[PydanticSerializer]):
    def get(self, parsed_query: Query[PageQuery]) -> Page[PostSchema]:
        return page(self.request, Post.objects.with_author(), parsed_query, post_schema)


class PostDetailController(DetailController):
    @modify(extra_responses=NOT_FOUND)
    def get(self, parsed_path: Path[DetailPath]) -> PostSchema:
        return post_schema(self.request, self.get_or_404(Post.objects.with_author(), parsed_path.pk))


class CommentListController(Controller[PydanticSerializer]):
    def get(self, parsed_query: Query[PageQuery]) -> Page[CommentSchema]:
        return page(self.request, Comment.objects.with_related(), parsed_query, comment_schema)


class CommentDetailController(DetailController):
    @modify(extra_responses=NOT_FOUND)
    def get(self, parsed_path: Path[DetailPath]) -> CommentSchema:
        return comment_schema(self.request, self.get_or_404(Comment.objects.with_related(), parsed_path.pk))


class Status(pydantic.BaseModel):
    status: str


class FloorController(Controller[PydanticSerializer]):
    def get(self) -> Status:
        return Status(status="ok")

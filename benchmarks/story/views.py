"""The tutorial's stages: the post list and detail as its code wrote them, then as its fixes did.

1. every post, no select_related: one query for the posts, one more per post for its author;
2. every post, select_related("user"): one query;
3. the textbook DRF fix: select_related, LimitOffsetPagination, DRF's JSONRenderer;
4. this API (blog.views), served at /blog/.
Each answers with the same post objects as this API (its PostSerializer): only how the
server gets them differs.
"""
from rest_framework import generics
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.renderers import JSONRenderer

from blog.models import Post
from blog.serializers import PostSerializer

NEWEST_FIRST = ("-created_at", "-id")


class EveryPost(generics.ListAPIView):
    """Every post at once, as the tutorial's first list did."""

    serializer_class = PostSerializer
    pagination_class = None
    renderer_classes = [JSONRenderer]


class OnePost(generics.RetrieveAPIView):
    serializer_class = PostSerializer
    renderer_classes = [JSONRenderer]


class TextbookPages(LimitOffsetPagination):
    default_limit = 20
    max_limit = 100


class TextbookPostList(generics.ListAPIView):
    """What a DRF developer writes after the tutorial: the join, limit/offset pages, DRF's renderer."""

    queryset = Post.objects.select_related("user").order_by(*NEWEST_FIRST)
    serializer_class = PostSerializer
    pagination_class = TextbookPages
    renderer_classes = [JSONRenderer]


STAGES = {
    "1": (EveryPost.as_view(queryset=Post.objects.order_by(*NEWEST_FIRST)),
          OnePost.as_view(queryset=Post.objects.all())),
    "2": (EveryPost.as_view(queryset=Post.objects.select_related("user").order_by(*NEWEST_FIRST)),
          OnePost.as_view(queryset=Post.objects.select_related("user"))),
    "3": (TextbookPostList.as_view(),
          OnePost.as_view(queryset=Post.objects.select_related("user"))),
}

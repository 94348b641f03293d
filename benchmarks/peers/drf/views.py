"""The read endpoints as DRF's documentation writes them: generic views, configured by attributes.

The serializers are the project's own (blog/serializers.py): they are DRF's textbook
ModelSerializers, the author nested, the URL a HyperlinkedIdentityField. What this peer
lacks is what this API adds to DRF: its fast path, paginator, renderer and negotiation.
"""
from rest_framework import generics
from rest_framework.decorators import api_view
from rest_framework.response import Response

from blog.views import CommentReads, PostReads


class PostList(PostReads, generics.ListAPIView):
    """Posts, newest first, a page at a time."""


class PostDetail(PostReads, generics.RetrieveAPIView):
    """One post."""


class CommentList(CommentReads, generics.ListAPIView):
    """Comments on all posts, newest first, a page at a time."""


class CommentDetail(CommentReads, generics.RetrieveAPIView):
    """One comment."""


@api_view(["GET"])
def floor(request):
    return Response({"status": "ok"})

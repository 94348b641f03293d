from django.db import connection
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Comment, Post
from .reads import FastListAPIView, FastRetrieveAPIView
from .schema import ERROR, VALIDATION_ERROR
from .serializers import (
    CommentCreateSerializer,
    CommentSerializer,
    PostCreateSerializer,
    PostSerializer,
)
from .throttling import FailedLoginAddressThrottle, FailedLoginThrottle

NO_POST = "No post with this id."


class LoginView(ObtainAuthToken):
    """DRF's token login, with repeated failures for one username, or from one address, throttled."""

    # No authentication: a stale token or session must not stand between a client and a new token.
    authentication_classes = []
    throttle_classes = [FailedLoginThrottle, FailedLoginAddressThrottle]

    def get_throttles(self):
        # Keep the instances that checked the request, so a failure can be recorded on them.
        if not hasattr(self, "_throttles"):
            self._throttles = super().get_throttles()
        return self._throttles

    @extend_schema(
        responses={
            200: inline_serializer("Token", {"token": serializers.CharField()}),
            400: VALIDATION_ERROR,
            413: ERROR,
            415: ERROR,
            429: ERROR,
        },
    )
    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            for throttle in self.get_throttles():
                throttle.record_failure()
            raise


class PostReads:
    """What the post endpoints read: posts with their authors, as PostSerializer shows them."""

    queryset = Post.objects.with_author()
    serializer_class = PostSerializer


class PostList(PostReads, FastListAPIView):
    """Posts, newest first, a page at a time."""


class PostDetail(PostReads, FastRetrieveAPIView):
    """One post."""


class PostCreate(generics.CreateAPIView):
    serializer_class = PostCreateSerializer
    permission_classes = [IsAuthenticated]

    def perform_create(self, serializer):
        serializer.save(user=self.request.user)


class CommentReads:
    """What the comment endpoints read: comments with their authors and posts, as CommentSerializer shows them."""

    queryset = Comment.objects.with_related()
    serializer_class = CommentSerializer


class CommentList(CommentReads, FastListAPIView):
    """Comments on all posts, newest first, a page at a time."""


class CommentDetail(CommentReads, FastRetrieveAPIView):
    """One comment."""


class PostCommentList(CommentReads, FastListAPIView):
    """A post's comments, newest first, a page at a time."""

    parent_lookup_kwargs = {"pk": "post_id"}

    def get_paginated_response(self, data):
        # An empty page is the only case where the post may not exist; check it then,
        # so that a post with comments costs no extra query.
        if not data and not Post.objects.filter(pk=self.kwargs["pk"]).exists():
            raise NotFound(NO_POST)
        return super().get_paginated_response(data)


class CommentCreate(generics.CreateAPIView):
    serializer_class = CommentCreateSerializer
    permission_classes = [IsAuthenticated]

    def create(self, request, *args, **kwargs):
        if not Post.objects.filter(pk=self.kwargs["pk"]).exists():
            raise NotFound(NO_POST)
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.save(user=self.request.user, post_id=self.kwargs["pk"])


class HealthView(APIView):
    """200 when the database answers a query, 503 when it cannot be reached."""

    authentication_classes = []
    permission_classes = []

    @extend_schema(
        responses={
            200: inline_serializer("Health", {"status": serializers.CharField()}),
            503: ERROR,
        }
    )
    def get(self, request):
        # An unreachable database raises here, and blog.middleware.DatabaseFailureMiddleware
        # answers the 503 (with Retry-After) that every endpoint answers then.
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Response({"status": "ok"})


@extend_schema(exclude=True)
class LoginWithoutSlashView(LoginView):
    """LoginView at /login too: APPEND_SLASH's redirect to /login/ would lose a POST's body."""


class LandingView(APIView):
    """Where to start, at /: the docs, the schema, the endpoints and the demo login."""

    authentication_classes = []
    permission_classes = []

    @extend_schema(exclude=True)
    def get(self, request):
        def url(name):
            return request.build_absolute_uri(reverse(name))

        return Response({
            "name": "Blog API",
            "docs": url("docs"),
            "schema": url("schema"),
            "endpoints": {
                "POST /login/": "a token for a username and password",
                "GET /blog/posts": "posts, newest first (no token needed)",
                "GET /blog/post/{id}": "one post (no token needed)",
                "POST /blog/create": "write a post (header Authorization: Token <key>)",
                "GET /blog/comments": "comments, newest first (no token needed)",
                "GET /blog/comment/{id}": "one comment (no token needed)",
                "GET /blog/post/{id}/comments": "a post's comments (no token needed)",
                "POST /blog/post/{id}/comment/create": "comment on a post (header Authorization: Token <key>)",
                "GET /health": "200 when the API and its database answer",
            },
            "demo_login": {
                "username": "seed_user_1",
                "password": "seed-password-local-only, unless BLOG_SEED_PASSWORD was set when seeding",
                "how": "python manage.py seed_blog creates the accounts; POST them to /login/ for a token.",
            },
        })

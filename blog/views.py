from django.db import DatabaseError, connection
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Comment, Post
from .reads import FastListAPIView, FastRetrieveAPIView
from .serializers import (
    CommentCreateSerializer,
    CommentSerializer,
    PostCreateSerializer,
    PostSerializer,
)
from .throttling import FailedLoginThrottle

NO_POST = "No post with this id."
ERROR = inline_serializer("Error", {"detail": serializers.CharField()})
VALIDATION_ERROR = OpenApiResponse(
    response={
        "type": "object",
        "additionalProperties": {
            "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
        },
    },
    description="Messages keyed by field (`non_field_errors` for the whole body), "
    "or a `detail` message when the body cannot be parsed.",
)
# Any request body: over DATA_UPLOAD_MAX_MEMORY_SIZE, or of a media type no parser reads.
BODY_ERRORS = {413: ERROR, 415: ERROR}


class LoginView(ObtainAuthToken):
    """DRF's token login, with repeated failures for one username throttled."""

    # No authentication: a stale token or session must not stand between a client and a new token.
    authentication_classes = []
    throttle_classes = [FailedLoginThrottle]

    def get_throttles(self):
        # Keep the instances that checked the request, so a failure can be recorded on them.
        if not hasattr(self, "_throttles"):
            self._throttles = super().get_throttles()
        return self._throttles

    @extend_schema(
        responses={
            200: inline_serializer("Token", {"token": serializers.CharField()}),
            400: VALIDATION_ERROR,
            429: ERROR,
            **BODY_ERRORS,
        },
    )
    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            for throttle in self.get_throttles():
                throttle.record_failure()
            raise


@extend_schema(responses={200: PostSerializer, 401: ERROR})
class PostList(FastListAPIView):
    queryset = Post.objects.with_author()
    serializer_class = PostSerializer


@extend_schema(responses={200: PostSerializer, 401: ERROR, 404: ERROR})
class PostDetail(FastRetrieveAPIView):
    queryset = Post.objects.with_author()
    serializer_class = PostSerializer


@extend_schema(responses={201: PostCreateSerializer, 400: VALIDATION_ERROR, 401: ERROR, **BODY_ERRORS})
class PostCreate(generics.CreateAPIView):
    serializer_class = PostCreateSerializer
    permission_classes = [IsAuthenticated]

    def perform_create(self, serializer):
        serializer.save(user=self.request.user)


@extend_schema(responses={200: CommentSerializer, 401: ERROR})
class CommentList(FastListAPIView):
    queryset = Comment.objects.with_related()
    serializer_class = CommentSerializer


@extend_schema(responses={200: CommentSerializer, 401: ERROR, 404: ERROR})
class CommentDetail(FastRetrieveAPIView):
    queryset = Comment.objects.with_related()
    serializer_class = CommentSerializer


@extend_schema(responses={200: CommentSerializer, 401: ERROR, 404: ERROR})
class PostCommentList(FastListAPIView):
    queryset = Comment.objects.with_related()
    serializer_class = CommentSerializer
    parent_lookup_kwargs = {"pk": "post_id"}

    def get_paginated_response(self, data):
        # An empty page is the only case where the post may not exist; check it then,
        # so that a post with comments costs no extra query.
        if not data and not Post.objects.filter(pk=self.kwargs["pk"]).exists():
            raise NotFound(NO_POST)
        return super().get_paginated_response(data)


@extend_schema(
    responses={
        201: CommentCreateSerializer, 400: VALIDATION_ERROR, 401: ERROR, 404: ERROR, **BODY_ERRORS
    }
)
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
    """200 when the database answers a query, 503 when it does not."""

    authentication_classes = []
    permission_classes = []

    @extend_schema(
        responses={
            200: inline_serializer("Health", {"status": serializers.CharField()}),
            503: inline_serializer("Unhealthy", {"status": serializers.CharField()}),
        }
    )
    def get(self, request):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError:
            return Response({"status": "database unavailable"}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response({"status": "ok"})

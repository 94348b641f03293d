"""What the OpenAPI schema needs to know that drf-spectacular cannot infer from the views and serializers."""
from drf_spectacular.authentication import SessionScheme as DefaultSessionScheme
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
    OpenApiViewExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import SAFE_METHODS, AllowAny

from .middleware import STORAGE_FULL, UNAVAILABLE


def character_ranges(codes):
    """`codes` (sorted) as a regex character class's body of \\uXXXX escapes, runs written as ranges."""
    runs = []
    for code in codes:
        if runs and runs[-1][1] == code - 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "".join(
        f"\\u{first:04x}" if first == last else f"\\u{first:04x}-\\u{last:04x}" for first, last in runs
    )


# Every character str.strip() removes, as CharField(trim_whitespace=True) does.
WHITESPACE = character_ranges([code for code in range(0x10000) if chr(code).isspace()])

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


BAD_TOKEN = OpenApiResponse(
    response=ERROR,
    description="Only when the request sends a token that is not valid: "
    "this endpoint needs none, so leave the Authorization header out.",
)

DATABASE_FAILURES = {
    UNAVAILABLE.status: "The database cannot be reached (down, restarting, or refusing "
    "connections), or is too busy (SQLite's write lock held past its timeout). Retry after "
    "the seconds in the Retry-After header.",
    STORAGE_FULL.status: "The database is out of storage space, so the write was refused. "
    "Reads still work; retry the write once space is freed (no Retry-After: when that "
    "happens is not known).",
}


class BlogAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the errors every endpoint of this API answers, by rule.

    401 where a view authenticates (a bad token is refused even where none is needed),
    404 where the path names an object, 400, 413 (over DATA_UPLOAD_MAX_MEMORY_SIZE) and 415
    where a request has a body, 429 where a view throttles; added to a view's own
    extend_schema responses on the class. (extend_schema on a method replaces this method:
    such a view declares its errors itself.) Then 503 on every operation and 507 on every
    write, whatever the view declares: blog.middleware.DatabaseFailureMiddleware answers
    them around every view. A read anyone may make lists no security scheme, so Swagger UI
    shows it without a padlock and sends it no token.
    """

    def get_auth(self):
        if self.is_open_read():
            return []
        return super().get_auth()

    def get_response_serializers(self):
        declared = super().get_response_serializers()
        if not isinstance(declared, dict):
            declared = {201 if self.method == "POST" else 200: declared}
        errors = {}
        if self.view.authentication_classes:
            errors[401] = BAD_TOKEN if self.is_open_read() else ERROR
        if "{" in self.path:
            errors[404] = ERROR
        if self.method in ("POST", "PUT", "PATCH"):
            errors.update({400: VALIDATION_ERROR, 413: ERROR, 415: ERROR})
        if self.view.throttle_classes:
            errors[429] = ERROR
        return dict(sorted({**errors, **declared}.items()))

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation:
            # Here rather than in get_response_serializers, which extend_schema on a method replaces.
            operation["responses"] = dict(sorted({**operation["responses"], **self.database_failures()}.items()))
        pagination = getattr(self.view, "pagination_class", None)
        if operation and pagination and issubclass(pagination, LimitOffsetPagination):
            # DRF's description leaves out the page size the paginator falls back to, and its cap.
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and parameter["name"] == pagination.limit_query_param:
                    parameter["description"] = (
                        f"How many results to return: {pagination.default_limit} when left out "
                        f"(or not a positive number), at most {pagination.max_limit} "
                        f"(a larger number returns {pagination.max_limit})."
                    )
                    parameter["schema"]["default"] = pagination.default_limit
        return operation

    def database_failures(self):
        """DatabaseFailureMiddleware's answers to this operation, by status.

        Every endpoint of this API uses the database, and every write needs room in it: login
        too, which may create the token and counts failures in the cache (the database's,
        unless REDIS_URL is set).
        """
        failures = [UNAVAILABLE] if self.method in SAFE_METHODS else [UNAVAILABLE, STORAGE_FULL]
        return {str(failure.status): self.database_failure(failure) for failure in failures}

    def database_failure(self, failure):
        """`failure` (a blog.middleware.DatabaseFailure) as an OpenAPI response."""
        error = self.resolve_serializer(ERROR, "response").ref
        response = {
            # JSON whatever the view renders: the middleware answers with a JsonResponse.
            "content": {"application/json": {"schema": error, "example": {"detail": failure.detail}}},
            "description": DATABASE_FAILURES[failure.status],
        }
        if failure.retry_after is not None:
            response["headers"] = {
                "Retry-After": {
                    "schema": {"type": "integer", "minimum": 0, "example": failure.retry_after},
                    "required": True,
                    "description": "Seconds to wait before retrying: always "
                    f"{failure.retry_after}, not a forecast of when the database is back.",
                }
            }
        return response

    def is_open_read(self):
        return self.method in SAFE_METHODS and all(
            isinstance(permission, AllowAny) for permission in self.view.get_permissions()
        )


class TokenScheme(OpenApiAuthenticationExtension):
    """The token scheme, described as a person types it into Swagger UI's Authorize dialog."""

    target_class = "blog.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        keyword = self.target.keyword
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": f"Type `{keyword} <key>` (the word {keyword}, a space, then the key), "
            f"where `<key>` is the `token` that POST /login/ returns.",
        }


class SessionScheme(DefaultSessionScheme):
    """drf-spectacular's session scheme, said to be the admin's, so a token is not typed into it."""

    target_class = "blog.authentication.SessionAuthentication"
    priority = 0

    def get_security_definition(self, auto_schema):
        return {
            **super().get_security_definition(auto_schema),
            "description": "The session cookie of a login to /admin/, for the browsable API. "
            "For a token from POST /login/, use tokenAuth.",
        }


class CharFieldExtension(OpenApiSerializerFieldExtension):
    """Patterns for what a CharField refuses: NUL characters, and text that is only whitespace."""

    target_class = "rest_framework.fields.CharField"

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request" and "pattern" not in schema:
            if self.target.trim_whitespace and not self.target.allow_blank:
                schema["pattern"] = f"^[^\\u0000]*[^\\u0000{WHITESPACE}][^\\u0000]*$"
            else:
                schema["pattern"] = "^[^\\u0000]*$"
            # Swagger UI fills "Try it out" with a random match of a pattern (control
            # characters, here) unless the field has an example: the one it shows for text.
            schema.setdefault("example", "string")
        return schema


def document(view, **documentation):
    """Register `documentation` (extend_schema's arguments) for the view at dotted path `view`.

    drf-spectacular's OpenApiViewExtension documents a subclass in the view's stead, so the
    view's own module keeps to what it does.
    """

    class Documentation(OpenApiViewExtension):
        target_class = view
        # Before drf-spectacular's own extension for ObtainAuthToken and its subclasses.
        priority = 1

        def view_replacement(self):
            return extend_schema(**documentation)(type(self.target_class.__name__, (self.target_class,), {}))

    return Documentation


SEED_LOGIN = OpenApiExample(
    "A seeded account",
    value={"username": "seed_user_1", "password": "seed-password-local-only"},
    description="`manage.py seed_blog` creates seed_user_1, seed_user_2, … with the password "
    "$BLOG_SEED_PASSWORD, seed-password-local-only unless that is set.",
    request_only=True,
)

document(
    "blog.views.LoginView",
    summary="Log in: a token for a username and password",
    description="Returns `{\"token\": \"<key>\"}`. Send it with every write as the header "
    "`Authorization: Token <key>` (in this page: **Authorize**, then type `Token <key>`). "
    "Repeated failures for one username, or from one address, are refused for a while (429).",
    # JSON first, so that Swagger UI offers it; the form encodings work too.
    request={
        media_type: AuthTokenSerializer
        for media_type in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
    },
    examples=[SEED_LOGIN],
)
document(
    "blog.views.PostList",
    summary="List posts",
    description="Posts, newest first, a page at a time (see `limit` and `offset`). "
    "`next` and `previous` are the URLs of the neighbouring pages. No token needed.",
)
document(
    "blog.views.PostDetail",
    summary="Get one post",
    description="The post with this id, with its author. No token needed.",
)
document(
    "blog.views.PostCreate",
    summary="Write a post",
    description="Creates a post by the token's user and returns it with its id.",
    examples=[
        OpenApiExample("A post", value={"title": "Hello", "body": "My first post."}, request_only=True)
    ],
)
document(
    "blog.views.CommentList",
    summary="List comments",
    description="Comments on all posts, newest first, a page at a time (see `limit` and "
    "`offset`), each with its author and its post's id and title. No token needed.",
)
document(
    "blog.views.CommentDetail",
    summary="Get one comment",
    description="The comment with this id, with its author and its post's id and title. No token needed.",
)
document(
    "blog.views.PostCommentList",
    summary="List a post's comments",
    description="The comments on the post with this id, newest first, a page at a time "
    "(see `limit` and `offset`); 404 if there is no such post. No token needed.",
)
document(
    "blog.views.CommentCreate",
    summary="Comment on a post",
    description="Creates a comment by the token's user on the post with this id and returns it.",
    examples=[OpenApiExample("A comment", value={"body": "Nice post!"}, request_only=True)],
)
document(
    "blog.views.HealthView",
    summary="Health check",
    description="`{\"status\": \"ok\"}` when the API and its database answer; "
    "503 while the database cannot be reached.",
)

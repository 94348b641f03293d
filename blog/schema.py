"""What the OpenAPI schema needs to know that drf-spectacular cannot infer from the views and serializers."""
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

# Every character str.strip() removes, as CharField(trim_whitespace=True) does.
WHITESPACE = "".join(f"\\u{code:04x}" for code in range(0x10000) if chr(code).isspace())

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


class BlogAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the errors every endpoint of this API answers, by rule.

    401 where a view authenticates (a bad token is refused even where none is needed),
    404 where the path names an object, 400, 413 (over DATA_UPLOAD_MAX_MEMORY_SIZE) and 415
    where a request has a body, 429 where a view throttles; added to a view's own
    extend_schema responses on the class. (extend_schema on a method replaces this method:
    such a view declares its errors itself.)
    """

    def get_response_serializers(self):
        declared = super().get_response_serializers()
        if not isinstance(declared, dict):
            declared = {201 if self.method == "POST" else 200: declared}
        errors = {}
        if self.view.authentication_classes:
            errors[401] = ERROR
        if "{" in self.path:
            errors[404] = ERROR
        if self.method in ("POST", "PUT", "PATCH"):
            errors.update({400: VALIDATION_ERROR, 413: ERROR, 415: ERROR})
        if self.view.throttle_classes:
            errors[429] = ERROR
        return dict(sorted({**errors, **declared}.items()))


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
        return schema

"""What the OpenAPI schema needs to know that drf-spectacular cannot infer from the serializers."""
from drf_spectacular.extensions import OpenApiSerializerFieldExtension

# Every character str.strip() removes, as CharField(trim_whitespace=True) does.
WHITESPACE = "".join(f"\\u{code:04x}" for code in range(0x10000) if chr(code).isspace())


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

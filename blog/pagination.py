from rest_framework.pagination import LimitOffsetPagination


class BlogLimitOffsetPagination(LimitOffsetPagination):
    """Limit/offset pages of 20 by default and 100 at most; bad values fall back to defaults."""

    default_limit = 20
    max_limit = 100

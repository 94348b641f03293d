import time

from django.conf import settings
from rest_framework.pagination import LimitOffsetPagination


class CountCache:
    """Row counts of large querysets, each reused in this process for a few seconds at most."""

    # Patched by the tests that pin the staleness bound.
    clock = staticmethod(time.monotonic)

    def __init__(self):
        self._counts = {}

    def count(self, queryset, max_age, min_rows):
        # The filter identifies the rows: the joins the lists add (select_related on
        # non-null keys) never change their number. Compiling the SQL for a key would
        # cost a fifth of a first page.
        key = (queryset.db, queryset.model._meta.label, str(queryset.query.where))
        now = self.clock()
        cached = self._counts.get(key)
        if cached is not None and now - cached[1] < max_age:
            return cached[0]
        count = queryset.count()
        if count >= min_rows and max_age > 0:
            self._counts[key] = (count, now)
        else:
            self._counts.pop(key, None)
        return count

    def clear(self):
        self._counts.clear()


count_cache = CountCache()


class BlogLimitOffsetPagination(LimitOffsetPagination):
    """Limit/offset pages of 20 by default and 100 at most; bad values fall back to defaults."""

    default_limit = 20
    max_limit = 100
    # Counted exactly below this many rows, where a count costs about a tenth of a
    # millisecond; at 5,000 rows it is already half a millisecond on PostgreSQL.
    count_cache_min_rows = 1_000
    # From this offset on a page is fetched by a deferred join; below it a plain
    # OFFSET is cheaper than the extra subquery.
    deferred_join_offset = 1_000

    def get_count(self, queryset):
        # COUNT(*) reads every row: 50 ms a request on PostgreSQL at a million posts.
        # Small lists are counted exactly; a large one's count may be up to
        # BLOG_COUNT_MAX_AGE seconds old.
        return count_cache.count(queryset, settings.BLOG_COUNT_MAX_AGE, self.count_cache_min_rows)

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.limit = self.get_limit(request)
        if self.limit is None:
            return None
        self.count = self.get_count(queryset)
        self.offset = self.get_offset(request)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        if self.count == 0 or self.offset > self.count:
            return []
        # A view's CompiledRows (blog.rows) reads its rows; not a view with filter
        # backends, whose queryset is narrowed per request.
        rows = getattr(view, "rows", None)
        if getattr(view, "filter_backends", None):
            rows = None
        if self.offset < self.deferred_join_offset:
            if rows is not None:
                return rows.fetch(limit=self.limit, offset=self.offset, **view.kwargs)
            return list(queryset[self.offset:self.offset + self.limit])
        # Deferred join: walk the ordering's index for the page's ids alone (index-only),
        # then fetch and join just those rows; the same rows as a plain OFFSET, without
        # reading and joining every skipped row.
        page_ids = queryset.values("pk")[self.offset:self.offset + self.limit]
        page = queryset.filter(pk__in=page_ids)
        return list(rows.values(page) if rows is not None else page)

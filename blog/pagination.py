"""The project's pagination: DRF's limit/offset pages, counted and linked faster.

Relies on (check on each Django upgrade; tests/test_upgrade_canary.py fails if one changes):
- `HttpRequest.build_absolute_uri()` without a location reading only the request's
  `_current_scheme_host` (its scheme and validated host, a cached_property), `path` and
  META["QUERY_STRING"] (through `get_full_path()`).
"""
import functools
import re
from urllib import parse

from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.pagination import LimitOffsetPagination

from .db.counters import count_rows, get_counted_table, lists_each_row_once
from .db.pages import ends_with_primary_key, select_by_deferred_join, select_from_the_far_end


class BlogLimitOffsetPagination(LimitOffsetPagination):
    """Limit/offset pages of 20 by default and 100 at most; bad values fall back to defaults.

    DRF's pagination, with the same pages: a whole table's count is read from its
    counter, and a page from offset `deferred_join_offset` on is found by walking the
    list's index from its nearer end (blog.db.pages). Anything but a plain queryset
    (a list, a union()) is paged by DRF's own code.
    """

    default_limit = 20
    max_limit = 100
    # Below this offset a plain OFFSET costs less than the deep page's extra subquery.
    deferred_join_offset = 1_000

    def get_count(self, queryset):
        if not is_plain_queryset(queryset):
            return super().get_count(queryset)
        return count_rows(queryset)

    def paginate_queryset(self, queryset, request, view=None):
        if not is_plain_queryset(queryset):
            return super().paginate_queryset(queryset, request, view)
        if not self.read_limits(request):
            return None
        self.set_count(self.get_count(queryset))
        if self.count == 0 or self.offset > self.count:
            return []
        return list(self.page_of(queryset))

    def paginate_statement(self, statement, values, request):
        """This page of a compiled statement's rows (blog.db.statements), each ending with
        the count of the whole list, read in the same statement; None without a limit.

        One statement instead of two: a round trip less, which is most of what a query
        costs on PostgreSQL; and the count and the rows come from one snapshot.
        """
        if not self.read_limits(request):
            return None
        if self.offset < self.deferred_join_offset:
            rows = statement.fetch(values, self.limit, self.offset)
            # Past the last row there is no row to carry the count.
            self.set_count(rows[0][-1] if rows else self.get_count(statement.queryset(**values)))
            return rows
        queryset = statement.queryset(**values)
        self.set_count(self.get_count(queryset))
        if self.count == 0 or self.offset > self.count:
            return []
        return statement.rows_of(self.page_of(queryset))

    def read_limits(self, request):
        """Read the request's limit and offset, as DRF does; False when there is no limit."""
        self.request = request
        self.limit = self.get_limit(request)
        if self.limit is None:
            return False
        self.offset = self.get_offset(request)
        return True

    def set_count(self, count):
        self.count = count
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True

    def page_of(self, queryset):
        """The queryset of this page's rows: a plain slice near the start, a deep page's walk beyond."""
        if self.offset < self.deferred_join_offset or not lists_each_row_once(queryset):
            # A queryset that lists a row more than once has no ids to walk to it by.
            return queryset[self.offset:self.offset + self.limit]
        table = get_counted_table(queryset)
        if table is not None and self.offset > self.count / 2 and ends_with_primary_key(queryset):
            return queryset.filter(select_from_the_far_end(queryset, table, self.offset, self.limit))
        return queryset.filter(select_by_deferred_join(queryset, self.offset, self.limit))

    def get_next_link(self):
        if self.offset + self.limit >= self.count:
            return None
        return self.link_to(self.offset + self.limit)

    def get_previous_link(self):
        if self.offset <= 0:
            return None
        return self.link_to(self.offset - self.limit if self.offset > self.limit else None)

    def link_to(self, offset):
        """DRF's link: this request's URL with `limit` set and `offset` set, or removed if None."""
        request = self.request._request
        return page_link(request._current_scheme_host, request.path, request.META.get("QUERY_STRING", ""),
                         self.limit_query_param, self.limit, self.offset_query_param, offset)


@functools.lru_cache(maxsize=1024)
def page_link(scheme_host, path, query_string, limit_param, limit, offset_param, offset):
    """The link DRF's paginator makes for a request with this scheme and (validated) host, path
    and query string: remembered, as the same links are asked for again and again.

    Everything build_absolute_uri() reads of a request is among the arguments, so a request
    made of them alone gives the same URL. DRF splits, parses and encodes that URL again
    for each parameter of each link: about 4% of a page of posts (docs/performance.md).
    """
    request = HttpRequest()
    request.path, request.META["QUERY_STRING"] = path, query_string
    request._current_scheme_host = scheme_host
    scheme, netloc, path, query, fragment = parse.urlsplit(request.build_absolute_uri())
    params = parse.parse_qs(query, keep_blank_values=True)
    params[limit_param] = [str(limit)]
    if offset is None:
        params.pop(offset_param, None)
    else:
        params[offset_param] = [str(offset)]
    return parse.urlunsplit((scheme, netloc, path, encode_query(sorted(params.items())), fragment))


# What quote_plus() gives back as it is: the characters it never quotes.
UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]*")


def encode_query(items):
    """parse.urlencode(items, doseq=True) of (name, [str values]) pairs, as DRF encodes a link's query.

    A name or value that quote_plus() would give back unchanged, such as "limit" and
    "20", is written as it is: quoting each in Python was a fifth of a link's cost
    (callgrind, docs/performance.md).
    """
    def encode(text):
        return text if UNQUOTED.fullmatch(text) else parse.quote_plus(text)

    return "&".join(f"{encode(name)}={encode(value)}" for name, values in items for value in values)


def is_plain_queryset(queryset):
    """Whether `queryset` is a QuerySet that can be filtered further: not a list, a slice or a union()."""
    return isinstance(queryset, QuerySet) and not (queryset.query.combinator or queryset.query.is_sliced)

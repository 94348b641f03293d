"""A page's `next` and `previous` links as DRF's LimitOffsetPagination writes them.

The API's page is DRF's: {count, next, previous, results}. The peers whose own limit/offset
pagination writes no links (django-ninja's, django-bolt's) or has none (django-modern-rest)
make them here, the way DRF does: the request's URL with `limit` and `offset` set, `offset`
dropped on the way back to the first page, the query's parameters sorted.
"""
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def page_links(url, limit, offset, count):
    """(next, previous) for the page of `url` at `limit` and `offset` of `count` rows; None past either end."""
    scheme, netloc, path, query, fragment = urlsplit(url)
    params = {**dict(parse_qsl(query, keep_blank_values=True)), "limit": str(limit)}

    def link(to_offset):
        linked = {**params, "offset": str(to_offset)}
        if to_offset <= 0:
            del linked["offset"]
        return urlunsplit((scheme, netloc, path, urlencode(sorted(linked.items())), fragment))

    next_link = link(offset + limit) if offset + limit < count else None
    previous_link = link(offset - limit) if offset > 0 else None
    return next_link, previous_link

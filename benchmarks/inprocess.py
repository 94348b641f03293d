"""In-process figures: the tutorial's three stages, and the first and a deep page.

    DJANGO_SETTINGS_MODULE=benchmarks.settings DATABASE_URL=... python -m benchmarks.inprocess 5000

Prints one JSON object. The tutorial's naive querysets are built here, not in the app:
the app ships only the last stage.
"""
import json
import statistics
import sys
import time
from contextlib import contextmanager

import django

# Listing every row of a bigger table unpaginated takes minutes and gigabytes; the
# stages are the tutorial's story at its own scale.
STAGES_MAX_POSTS = 100_000


@contextmanager
def count_queries():
    from django.db import connection

    queries = []

    def record(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield queries


def request(view, query=""):
    """One GET through the view and the renderer: (milliseconds, queries, response)."""
    from rest_framework.test import APIRequestFactory

    wsgi_request = APIRequestFactory().get(f"/blog/posts{query}", HTTP_HOST="127.0.0.1")
    with count_queries() as queries:
        started = time.perf_counter()
        response = view(wsgi_request)
        response.render()
        elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    return elapsed * 1000, len(queries), response


def measure(view, query="", repeat=20):
    request(view, query)  # warm: connection, caches, the count
    runs = [request(view, query) for _ in range(repeat)]
    _, queries, response = runs[-1]
    return {
        "ms": statistics.median(run[0] for run in runs),
        "queries": queries,
        "bytes": len(response.content),
        "response": response,
    }


def stages(posts):
    from rest_framework import generics

    from blog.models import Post
    from blog.serializers import PostSerializer
    from blog.views import PostList

    class TutorialPostList(generics.ListAPIView):
        """The same JSON from model instances, by DRF's declared fields, as the tutorial's."""

        serializer_class = PostSerializer
        pagination_class = None

    if posts > STAGES_MAX_POSTS:
        return []
    views = [
        ("1. every post, no select_related (N+1)",
         TutorialPostList.as_view(queryset=Post.objects.all()), "", 3),
        ("2. every post, select_related('user')",
         TutorialPostList.as_view(queryset=Post.objects.select_related("user")), "", 5),
        ("3. paginated, ?limit=20 (the app)", PostList.as_view(), "?limit=20", 50),
    ]
    results = []
    for name, view, query, repeat in views:
        figures = measure(view, query, repeat)
        figures.pop("response")
        results.append({"stage": name, **figures})
    return results


def pages(posts):
    from blog.db.pages import select_by_deferred_join
    from blog.pagination import BlogLimitOffsetPagination
    from blog.views import PostList

    class PlainOffsetPagination(BlogLimitOffsetPagination):
        deferred_join_offset = float("inf")

    class NearEndPagination(BlogLimitOffsetPagination):
        """The deferred join from the near end, at any depth: what the far-end walk replaced."""

        def page_of(self, queryset):
            return queryset.filter(select_by_deferred_join(queryset, self.offset, self.limit))

    deep = posts * 9 // 10
    app = PostList.as_view()
    # Subclasses, not as_view(pagination_class=...): the fast path is planned per class.
    plain = type("PlainOffsetPostList", (PostList,), {"pagination_class": PlainOffsetPagination}).as_view()
    near_end = type("NearEndPostList", (PostList,), {"pagination_class": NearEndPagination}).as_view()
    first = measure(app, "?limit=20", 50)
    deep_page = measure(app, f"?limit=20&offset={deep}", 20)
    near_end_page = measure(near_end, f"?limit=20&offset={deep}", 20)
    plain_page = measure(plain, f"?limit=20&offset={deep}", 3)
    same = deep_page.pop("response").data == plain_page.pop("response").data == near_end_page.pop("response").data
    first.pop("response")
    return {
        "first_page": first,
        "deep_offset": deep,
        "deep_page": deep_page,
        "near_end_deferred_join_page": near_end_page,
        "plain_offset_page": plain_page,
        "deep_page_equals_plain_offset": same,
    }


if __name__ == "__main__":
    django.setup()
    posts = int(sys.argv[1])
    print(json.dumps({"stages": stages(posts), **pages(posts)}))

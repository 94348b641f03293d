"""The peers: this API's read endpoints written with what a Django developer would otherwise choose.

One folder a framework, each written the way its own documentation shows, on the
project's models and settings (only the framework's own settings differ), serving
`GET /blog/posts`, `/blog/post/<pk>`, `/blog/comments`, `/blog/comment/<pk>` with this
API's JSON, and a floor view of constant JSON at `/bench/floor` through the framework:

- drf: the textbook DRF API: DRF's generic views and LimitOffsetPagination, the
  project's own ModelSerializers, DRF's JSONRenderer. This API minus its fast path.
- ninja: django-ninja, Schema classes and its documented @paginate(LimitOffsetPagination).
- modern_rest: django-modern-rest, Controllers with pydantic models.
- bolt: django-bolt, msgspec Serializers on its own Rust server (Python >= 3.12, own venv).

benchmarks/peers/run.py serves them beside this API, checks that they answer the same
JSON, and measures them side by side (`make bench-peers`).
"""

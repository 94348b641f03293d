"""The read endpoints' fast path: DRF's generic list and detail views, answered from compiled SQL.

A view that subclasses `FastListAPIView` or `FastRetrieveAPIView` and is configured only
by DRF's attributes (`queryset`, `serializer_class`, `lookup_field`, `pagination_class`,
and `parent_lookup_kwargs` for a list under a parent) gets its answer without model
instances or per-field serializer calls: `read_page()` and `read_object()` run the
view's own queryset, compiled once per process (blog.db.statements), and write the
rows straight into the JSON that the serializer's declared fields would make.

Whatever the fast path cannot answer exactly as DRF would, DRF answers: a view that
overrides one of the methods the fast path skips, has filter backends or object
permissions, or a serializer field the projection below does not know, is served by
DRF's own `list()` / `retrieve()` (correct, slower), and says so once in the log
("blog.reads"). tests/test_reads.py holds both paths' bytes equal.

Relies on (check on each DRF upgrade; tests/test_upgrade_canary.py fails if one changes):
- `HyperlinkedRelatedField.to_representation()` building its URL as
  `self.reverse(view_name, kwargs={lookup_url_kwarg: value}, request=..., format=...)`,
  with `format` from the serializer context unless the field sets its own; and DRF's
  `reverse()`, without a versioning scheme, being Django's reverse() of
  `kwargs` (plus `format`), made absolute by `request.build_absolute_uri()`, then
  `preserve_builtin_query_params(url, request)`.
- `Serializer.to_representation()` writing None for a None attribute and
  `field.to_representation(attribute)` otherwise, over the fields that are not write-only.
- `preserve_builtin_query_params()` reading only `request.GET` (see renderers.has_no_query).
- `HttpRequest.build_absolute_uri(location)` of a location starting with "/" reading only
  the request's `_current_scheme_host` (its scheme and validated host, a cached_property).
- `BigIntegerField.to_representation()` giving `str(value)` when the field's
  `coerce_to_string` (or else COERCE_BIGINT_TO_STRING) is true, the integer otherwise.
"""
import functools
import logging
from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf
from django.urls import reverse as django_reverse
from django.utils.translation import get_language
from rest_framework import fields as drf_fields
from rest_framework import generics, serializers
from rest_framework.permissions import BasePermission
from rest_framework.relations import HyperlinkedIdentityField
from rest_framework.response import Response
from rest_framework.reverse import preserve_builtin_query_params, reverse
from rest_framework.settings import api_settings

from .db.counters import get_count_expression
from .db.statements import CompiledStatement
from .pagination import BlogLimitOffsetPagination
from .renderers import has_no_query

logger = logging.getLogger(__name__)

# Reversed in place of an id, then cut out, leaving the URL around it as a template.
PLACEHOLDER_ID = 9_876_543_210
# DRF fields whose to_representation() gives back as it is the value of a model field of
# these internal types (None: of any type).
VERBATIM = {
    drf_fields.ReadOnlyField: None,
    drf_fields.IntegerField: {"AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField",
                              "SmallIntegerField", "PositiveIntegerField", "PositiveBigIntegerField",
                              "PositiveSmallIntegerField"},
    drf_fields.CharField: {"CharField", "TextField", "SlugField", "EmailField", "URLField"},
}


class FastListAPIView(generics.ListAPIView):
    """DRF's ListAPIView, whose pages read_page() answers when it can answer them exactly."""

    # {URL keyword: ORM lookup} filtering the list by its parent, as drf-nested-routers
    # names it, e.g. {"pk": "post_id"} for a post's comments.
    parent_lookup_kwargs = {}

    def get_queryset(self):
        queryset = super().get_queryset()
        if not self.parent_lookup_kwargs:
            return queryset
        return queryset.filter(
            **{lookup: self.kwargs[kwarg] for kwarg, lookup in self.parent_lookup_kwargs.items()}
        )

    def list(self, request, *args, **kwargs):
        page = read_page(self)
        if page is None:
            return super().list(request, *args, **kwargs)
        return self.get_paginated_response(page)


class FastRetrieveAPIView(generics.RetrieveAPIView):
    """DRF's RetrieveAPIView, whose objects read_object() answers when it can answer them exactly."""

    def retrieve(self, request, *args, **kwargs):
        found = read_object(self)
        if found is None:
            return super().retrieve(request, *args, **kwargs)
        return Response(found)


def read_page(view):
    """The view's page as the JSON data its serializer would make, the count set on its
    paginator; or None where DRF's own list() must answer."""
    if (fast := prepare_fast_answer(view)) is None:
        return None
    plan, values, represent = fast
    rows = view.paginator.paginate_statement(plan.counted_statement, values, view.request)
    return None if rows is None else [represent(row) for row in rows]


def read_object(view):
    """The view's object as the JSON data its serializer would make; or None where DRF's
    own retrieve() must answer. No such object is a 404, as get_object() says it."""
    if (fast := prepare_fast_answer(view)) is None:
        return None
    plan, values, represent = fast
    rows = plan.statement.fetch(values)
    if not rows:
        raise Http404(f"No {view.queryset.model._meta.object_name} matches the given query.")
    return represent(rows[0])


def prepare_fast_answer(view):
    """The view's Plan, the statement's values and the row function for this request; or
    None where DRF's own path must answer."""
    plan = get_plan(type(view))
    # as_view(**initkwargs) sets attributes on the instance; the plan is the class's.
    if plan is None or not PLANNED_FROM.isdisjoint(vars(view)) or (values := plan.values(view.kwargs)) is None:
        return None
    if (represent := plan.projection.bind(view)) is None:
        return None
    return plan, values, represent


@dataclass
class Plan:
    """What a view class's fast path runs: its statement and how its rows become JSON."""

    statement: CompiledStatement
    # The same rows, each ending with the number of rows in the whole list.
    counted_statement: CompiledStatement
    projection: "Projection"
    # The URL keywords whose values go into the statement.
    kwargs: tuple

    def values(self, kwargs):
        """The statement's values from a request's URL keywords; None if one is not an integer."""
        values = {name: kwargs.get(name) for name in self.kwargs}
        return values if all(type(value) is int for value in values.values()) else None


def get_plan(view_class):
    """The view class's Plan, made on its first request; None when DRF's path must answer."""
    if "_read_plan" not in view_class.__dict__:
        problem = find_fast_path_problem(view_class)
        plan = None
        if problem is None:
            plan = make_plan(view_class)
        if plan is None:
            logger.info("%s is answered by DRF's own path: %s", view_class.__qualname__,
                        problem or "its serializer has a field the fast path cannot write")
        view_class._read_plan = plan
    return view_class._read_plan


# What each fast view skips of DRF's path: overriding one of these sends it down DRF's.
SKIPPED = {
    FastListAPIView: ("get_queryset", "filter_queryset", "paginate_queryset", "get_serializer",
                      "get_serializer_class", "get_serializer_context"),
    FastRetrieveAPIView: ("get_queryset", "filter_queryset", "get_object", "get_serializer",
                          "get_serializer_class", "get_serializer_context", "get_permissions",
                          "check_object_permissions"),
}

# The attributes a plan is made from, as as_view() could also give them.
PLANNED_FROM = frozenset({
    "queryset", "serializer_class", "pagination_class", "filter_backends", "permission_classes",
    "lookup_field", "lookup_url_kwarg", "parent_lookup_kwargs", *SKIPPED[FastListAPIView],
    *SKIPPED[FastRetrieveAPIView],
})


def find_fast_path_problem(view_class):
    """Why the view class must be answered by DRF's own path, or None."""
    base = FastListAPIView if issubclass(view_class, FastListAPIView) else FastRetrieveAPIView
    for name in SKIPPED[base]:
        if getattr(view_class, name) is not getattr(base, name):
            return f"it overrides {name}()"
    if view_class.filter_backends:
        return "it has filter backends"
    if not isinstance(view_class.queryset, QuerySet):
        return "it has no `queryset` attribute"
    query = view_class.queryset.query
    if query.group_by is not None or query.distinct or query.extra or query.combinator or query.is_sliced:
        # values_list() of such a queryset is not its instances' rows: it groups or
        # deduplicates by the columns selected.
        return "its queryset groups (an aggregate), is distinct, sliced, uses extra() or union()"
    if base is FastListAPIView:
        pagination = view_class.pagination_class
        if not (isinstance(pagination, type) and issubclass(pagination, BlogLimitOffsetPagination)):
            return "its pagination_class is not a BlogLimitOffsetPagination"
        for name in ("paginate_queryset", "get_count"):
            if getattr(pagination, name) is not getattr(BlogLimitOffsetPagination, name):
                return f"its pagination class overrides {name}()"
    else:
        for permission in view_class.permission_classes:
            if not isinstance(permission, type) or (
                permission.has_object_permission is not BasePermission.has_object_permission
            ):
                return f"{permission!r} may check objects"
        field = find_integer_field(view_class.queryset.model, view_class.lookup_field)
        if field is None or not (field.primary_key or field.unique):
            return f"lookup_field {view_class.lookup_field!r} is not a unique integer column"
    return None


def make_plan(view_class):
    """The view class's Plan, or None if its serializer has a field the projection cannot write."""
    model = view_class.queryset.model
    projection = Projection.of(view_class.serializer_class, model)
    if projection is None:
        return None
    if issubclass(view_class, FastListAPIView):
        kwargs = tuple(view_class.parent_lookup_kwargs)
        build = make_queryset_builder(view_class)
    else:
        kwargs = (view_class.lookup_url_kwarg or view_class.lookup_field,)
        build = make_object_queryset_builder(view_class)
    statement = CompiledStatement(build, kwargs, projection.columns)
    return Plan(statement, statement.with_extra(get_count_expression), projection, kwargs)


def make_queryset_builder(view_class):
    """A function from URL keyword values to the queryset the view's get_queryset() gives for them."""

    def build(**kwargs):
        view = view_class(kwargs=kwargs)
        return view.get_queryset()

    return build


def make_object_queryset_builder(view_class):
    """A function from the URL's lookup value to the queryset get_object() looks the object up in."""
    list_queryset = make_queryset_builder(view_class)
    kwarg = view_class.lookup_url_kwarg or view_class.lookup_field

    def build(**kwargs):
        return list_queryset(**kwargs).filter(**{view_class.lookup_field: kwargs[kwarg]})

    return build


def find_integer_field(model, name):
    """The concrete integer model field a name (or "pk") stands for, or None."""
    field = model._meta.pk if name == "pk" else next(
        (field for field in model._meta.concrete_fields if field.name == name), None
    )
    if field is None or field.is_relation or field.get_internal_type() not in VERBATIM[drf_fields.IntegerField]:
        return None
    return field


class Projection:
    """The columns a serializer's fields read, and a function from a row of them to its JSON data.

    Made from the serializer's own fields, so the JSON is declared once: a field added to
    Meta.fields is a column more. The function is generated Python (as namedtuple and
    dataclasses generate theirs), one dict display per row, which is what writing it by
    hand would give.
    """

    def __init__(self, serializer_class):
        self.columns = []
        self.links = []  # HyperlinkedIdentityFields, whose URLs depend on the request
        self.big_integers = []  # BigIntegerFields, written as text or not by the settings of the day
        self.conversions = []  # to_representation of fields that change a value
        self.name = serializer_class.__name__

    @classmethod
    def of(cls, serializer_class, model):
        """The projection of serializer_class for rows of model; None if it has a field it cannot write."""
        projection = cls(serializer_class)
        display = projection.object_display(serializer_class(), model, prefix="")
        if display is None:
            return None
        heads = [f"head{n}, tail{n}" for n in range(len(projection.links))]
        heads += [f"as_text{n}" for n in range(len(projection.big_integers))]
        source = f"def bind({', '.join(heads)}):\n    return lambda row: {display}\n"
        namespace = {"conversions": tuple(projection.conversions)}
        exec(compile(source, f"<projection of {projection.name}>", "exec"), namespace)
        projection.bind_links = namespace["bind"]
        return projection

    def bind(self, view):
        """The function from a row to its JSON data for this view's request; None where a
        link's URL does not reverse to a template (DRF's path then answers, or says why)."""
        parts = []
        for field in self.links:
            try:
                parts += reverse_link_template(field, view)
            except (NoReverseMatch, ValueError):
                return None
        # Read per request, as the field reads it per value: a settings change applies at once.
        parts += [bool(getattr(field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING))
                  for field in self.big_integers]
        return self.bind_links(*parts)

    def column(self, name):
        if name not in self.columns:
            self.columns.append(name)
        return f"row[{self.columns.index(name)}]"

    def object_display(self, serializer, model, prefix):
        """Python source of the dict a ModelSerializer makes of a row; None if it cannot."""
        serializer_class = type(serializer)
        if not isinstance(serializer, serializers.ModelSerializer) or any(
            getattr(serializer_class, name) is not getattr(serializers.ModelSerializer, name)
            for name in ("to_representation", "get_fields")
        ) or not issubclass(model, serializer.Meta.model):
            return None
        items = []
        for field in serializer.fields.values():
            if field.write_only:
                continue
            value = self.field_display(field, model, prefix)
            if value is None:
                return None
            items.append(f"{field.field_name!r}: {value}")
        return "{" + ", ".join(items) + "}"

    def field_display(self, field, model, prefix):
        """Python source of one field's value in a row; None if the projection cannot write it."""
        if type(field) is HyperlinkedIdentityField:
            lookup = find_integer_field(model, field.lookup_field)
            if lookup is None:
                return None
            self.links.append(field)
            n = len(self.links) - 1
            return f'f"{{head{n}}}{{{self.column(prefix + lookup.name)}}}{{tail{n}}}"'
        if len(field.source_attrs) != 1:
            return None
        model_field = next((f for f in model._meta.concrete_fields if f.name == field.source_attrs[0]), None)
        if model_field is None:
            return None
        if isinstance(field, serializers.ModelSerializer):
            # A nested object along a foreign key that is never null, read through its join.
            if not (model_field.many_to_one or model_field.one_to_one) or model_field.null:
                return None
            return self.object_display(field, model_field.related_model, f"{prefix}{model_field.name}__")
        if (model_field.is_relation or type(field).__module__ != drf_fields.__name__
                or type(field).get_attribute is not drf_fields.Field.get_attribute):
            return None
        value = self.column(prefix + model_field.name)
        if type(field) is drf_fields.BigIntegerField and (
                model_field.get_internal_type() in VERBATIM[drf_fields.IntegerField]):
            # An integer column's value is already the int IntegerField would make of it.
            self.big_integers.append(field)
            return f"(None if {value} is None else str({value}) if as_text{len(self.big_integers) - 1} else {value})"
        verbatim_types = VERBATIM.get(type(field), ())
        if verbatim_types is None or model_field.get_internal_type() in verbatim_types or (
            type(field) is drf_fields.DateTimeField
            and getattr(field, "format", api_settings.DATETIME_FORMAT) is None
        ):
            return value
        self.conversions.append(field.to_representation)
        return f"(None if {value} is None else conversions[{len(self.conversions) - 1}]({value}))"


def reverse_link_template(field, view):
    """The URL a HyperlinkedIdentityField gives an object, for this request, as (head, tail)
    around the object's id: what the field's reverse() makes of a placeholder id."""
    format = view.format_kwarg
    if format and field.format and field.format != format:
        format = field.format
    request = view.request
    kwargs = {field.lookup_url_kwarg: PLACEHOLDER_ID}
    if field.reverse is reverse and getattr(request, "versioning_scheme", None) is None:
        # DRF's reverse() without versioning, with Django's reverse() remembered: for a
        # given URLconf, script prefix and language its path is the same every time.
        path = reverse_path(field.view_name, tuple(kwargs.items()), format,
                            get_urlconf(), get_script_prefix(), get_language())
        url = absolute_url(request._request._current_scheme_host, path)
        if not has_no_query(request):
            url = preserve_builtin_query_params(url, request)
    else:
        url = field.reverse(field.view_name, kwargs=kwargs, request=request, format=format)
    head, found, tail = url.partition(str(PLACEHOLDER_ID))
    if not found or str(PLACEHOLDER_ID) in tail:
        raise ValueError(f"{url} does not hold the id once")
    return head, tail


@functools.lru_cache(maxsize=256)
def absolute_url(scheme_host, path):
    """What build_absolute_uri(path) gives a request with this scheme and (validated) host.

    A path from reverse() starts with "/", and the URL of such a path is made of the
    request's scheme and host alone: remembered, it costs a lookup instead of a split,
    a join and an IRI quoting per request.
    """
    if not path.startswith("/"):
        raise ValueError(f"{path!r} is not an absolute path")
    request = HttpRequest()
    request._current_scheme_host = scheme_host
    return request.build_absolute_uri(path)


@functools.lru_cache(maxsize=256)
def reverse_path(view_name, kwargs, format, urlconf, script_prefix, language):
    """The path DRF's reverse() asks Django's for (its _reverse()), without the host.

    Django's reverse() reads the script prefix and the language itself: they are
    arguments only to key the cache."""
    kwargs = dict(kwargs)
    if format is not None:
        kwargs["format"] = format
    return django_reverse(view_name, kwargs=kwargs, urlconf=urlconf)

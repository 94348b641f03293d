"""The OpenAPI schema documents every endpoint; a property-based fuzz holds the app to it.

Requests go straight to the WSGI application, so no server is needed. Every response
must be a non-5xx that the schema documents: status code, content type, headers, body.
The 503 and 507 that blog.middleware answers when the database fails are held to the
schema the same way, with the database made to fail.
"""
import re

import psycopg
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import OperationalError, close_old_connections, connections
from django.urls import reverse
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from blog.middleware import RETRY_AFTER_SECONDS, STORAGE_FULL, UNAVAILABLE
from blogproject.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def keep_test_connection():
    """Stop the WSGI handler closing the connection that holds the test's transaction.

    Django's own test client does the same; schemathesis calls the bare handler.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token_header(keep_test_connection, fast_password_hashing, make_user, make_post, make_comment):
    user = make_user(username="fuzzer")
    # Low ids exist, so generated path parameters sometimes hit a real row, not only 404s.
    make_comment(post=make_post(author=user), author=user)
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_api_answers_every_generated_request_as_its_schema_says(case, token_header):
    # The contract is lenient on purpose: garbage limit/offset fall back to the defaults
    # and DRF reads a number sent as a title as its text, so "reject what the schema
    # forbids" does not apply. Every other check, response conformance first, does.
    excluded = [negative_data_rejection]
    if case.path == "/login/":
        # Well-formed but wrong credentials are a 400 that no schema can predict.
        excluded.append(positive_data_acceptance)
    case.call_and_validate(headers=token_header, excluded_checks=excluded)


def test_schema_documents_every_answer_of_the_http_contract(api_client):
    response = api_client.get(reverse("schema"), {"format": "json"})

    documented = {
        (method.upper(), path): sorted(operation["responses"])
        for path, operations in response.json()["paths"].items()
        for method, operation in operations.items()
    }
    assert documented == {
        ("POST", "/login/"): ["200", "400", "413", "415", "429", "503", "507"],
        ("GET", "/blog/posts"): ["200", "401", "503"],
        ("GET", "/blog/post/{id}"): ["200", "401", "404", "503"],
        ("POST", "/blog/create"): ["201", "400", "401", "413", "415", "503", "507"],
        ("GET", "/blog/comments"): ["200", "401", "503"],
        ("GET", "/blog/comment/{id}"): ["200", "401", "404", "503"],
        ("POST", "/blog/post/{id}/comment/create"): ["201", "400", "401", "404", "413", "415", "503", "507"],
        ("GET", "/blog/post/{id}/comments"): ["200", "401", "404", "503"],
        ("GET", "/health"): ["200", "503"],
    }


def failing_database(cause):
    """A stand-in for the connection's cursor() that raises `cause` as django.db wraps a driver's error."""

    def cursor(*args, **kwargs):
        raise OperationalError(*cause.args) from cause

    return cursor


def request_that_reaches_the_database(operation):
    """A case of `operation` that gets as far as a query: a token (looked up), an id, a body."""
    case = {"headers": {"Authorization": f"Token {'0' * 40}"}}
    if "{id}" in operation.path:
        case["path_parameters"] = {"id": 1}
    if operation.method.upper() == "POST":
        case["media_type"] = "application/json"
        case["body"] = {"username": "u", "password": "p"} if operation.path == "/login/" else {"title": "t", "body": "b"}
    return operation.Case(**case)


@pytest.mark.parametrize("cause, status, methods", [
    pytest.param(psycopg.OperationalError("connection failed: Connection refused"), 503, {"GET", "POST"},
                 id="unavailable"),
    # Only writes need room to store.
    pytest.param(psycopg.errors.DiskFull("could not extend file"), 507, {"POST"}, id="storage-full"),
])
def test_database_failures_are_answered_as_the_schema_documents_on_every_operation(
    cause, status, methods, keep_test_connection, monkeypatch,
):
    answered = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() not in methods:
            continue
        case = request_that_reaches_the_database(operation)
        # Undone before the test database is rolled back, which needs a working cursor.
        with monkeypatch.context() as patch:
            patch.setattr(type(connections["default"]), "cursor", failing_database(cause))
            response = case.call()
        assert response.status_code == status, (operation.label, response.text)
        # Status, content type, headers (Retry-After) and body, each as documented.
        case.validate_response(response, checks=[
            status_code_conformance, content_type_conformance, response_headers_conformance,
            response_schema_conformance,
        ])
        answered.append(operation.label)
    assert len(answered) == {503: 9, 507: 3}[status], answered


def test_the_schema_says_when_to_retry_after_a_database_failure(api_client):
    _, documented = operations(api_client)

    for (method, path), operation in documented.items():
        unavailable = operation["responses"]["503"]
        assert unavailable["headers"]["Retry-After"]["required"], (method, path)
        assert unavailable["headers"]["Retry-After"]["schema"]["example"] == RETRY_AFTER_SECONDS
        assert unavailable["content"]["application/json"]["example"] == {"detail": UNAVAILABLE.detail}
        if method == "POST":
            full = operation["responses"]["507"]
            assert "headers" not in full, path  # space comes back when someone frees it, not at a known time
            assert full["content"]["application/json"]["example"] == {"detail": STORAGE_FULL.detail}


def test_list_schemas_are_limit_offset_pages(api_client):
    document = api_client.get(reverse("schema"), {"format": "json"}).json()

    for path, component in [("/blog/posts", "Post"), ("/blog/comments", "Comment")]:
        operation = document["paths"][path]["get"]
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/Paginated{component}List"}
        assert {parameter["name"] for parameter in operation["parameters"]} == {"limit", "offset"}
    page = document["components"]["schemas"]["PaginatedPostList"]
    assert set(page["properties"]) == {"count", "next", "previous", "results"}


def test_docs_ui_is_served(api_client):
    response = api_client.get(reverse("docs"))

    assert response.status_code == 200
    assert b"swagger-ui" in response.content


def test_the_schema_describes_posts_and_comments_not_how_they_are_written(client):
    components = client.get("/api/schema/?format=json").json()["components"]["schemas"]

    assert components["Post"]["description"] == "A post, with its detail URL and its author."
    assert components["Comment"]["description"] == (
        "A comment, with its detail URL, its author and the post it is on."
    )


def operations(client):
    document = client.get(reverse("schema"), {"format": "json"}).json()
    return document, {
        (method.upper(), path): operation
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


def test_every_operation_has_a_summary_and_a_description(api_client):
    _, documented = operations(api_client)

    assert all(operation.get("summary") and operation.get("description") for operation in documented.values())


def test_reads_need_no_token_and_writes_ask_for_one(api_client):
    _, documented = operations(api_client)

    for (method, path), operation in documented.items():
        if method == "POST" and path != "/login/":
            assert {"tokenAuth": []} in operation["security"], path
        else:
            assert "security" not in operation, path
    # A read answers 401 only to a token that is not valid, and says so.
    assert "leave the Authorization header out" in documented["GET", "/blog/posts"]["responses"]["401"]["description"]


def test_request_bodies_carry_readable_examples_for_swagger_ui(api_client):
    _, documented = operations(api_client)

    login = documented["POST", "/login/"]["requestBody"]["content"]
    # JSON first: Swagger UI offers the first media type.
    assert next(iter(login)) == "application/json"
    (example,) = login["application/json"]["examples"].values()
    assert example["value"] == {"username": "seed_user_1", "password": "seed-password-local-only"}
    for key in [("POST", "/blog/create"), ("POST", "/blog/post/{id}/comment/create")]:
        (example,) = documented[key]["requestBody"]["content"]["application/json"]["examples"].values()
        assert all(value.isprintable() for value in example["value"].values())


def test_text_fields_with_a_pattern_carry_an_example_that_matches_it(api_client):
    # Else Swagger UI makes up a match of the pattern: control characters.
    document, _ = operations(api_client)

    patterned = [
        field
        for component in document["components"]["schemas"].values()
        for field in component.get("properties", {}).values()
        if "pattern" in field
    ]
    assert patterned
    assert all(re.fullmatch(field["pattern"], field["example"]) for field in patterned)


def test_limit_states_its_default_and_its_cap(api_client):
    _, documented = operations(api_client)

    (limit,) = [p for p in documented["GET", "/blog/posts"]["parameters"] if p["name"] == "limit"]
    assert limit["schema"] == {"type": "integer", "default": 20}
    assert "20 when left out" in limit["description"] and "at most 100" in limit["description"]


def test_the_token_scheme_says_what_to_type_in_authorize(api_client):
    document, _ = operations(api_client)

    assert "Type `Token <key>`" in document["components"]["securitySchemes"]["tokenAuth"]["description"]


def test_the_session_scheme_is_documented_as_the_admins_on_every_authenticated_operation(api_client):
    document, documented = operations(api_client)

    cookie = document["components"]["securitySchemes"]["cookieAuth"]
    assert cookie["in"] == "cookie" and "/admin/" in cookie["description"]
    assert {"cookieAuth": []} in documented["POST", "/blog/create"]["security"]

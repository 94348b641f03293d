import psycopg
from django.db import OperationalError, connections
from django.urls import reverse


def test_health_is_200_when_the_database_answers(api_client, db):
    response = api_client.get(reverse("health"))

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_is_503_when_the_database_does_not_answer(api_client, db, monkeypatch):
    def unreachable(*args, **kwargs):
        # As Django's PostgreSQL backend raises it when nothing listens.
        refused = psycopg.OperationalError("connection failed: Connection refused")
        raise OperationalError(*refused.args) from refused

    # Undone before the test database is rolled back, which needs a working cursor.
    with monkeypatch.context() as patch:
        patch.setattr(type(connections["default"]), "cursor", unreachable)
        response = api_client.get(reverse("health"))

    assert response.status_code == 503
    assert response.json() == {"detail": "The database is unavailable. Retry in 5 seconds."}
    assert response["Retry-After"] == "5"


def test_health_ignores_a_bad_token(api_client, db):
    response = api_client.get(reverse("health"), HTTP_AUTHORIZATION="Token not-a-real-token")

    assert response.status_code == 200

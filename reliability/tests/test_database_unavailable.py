"""A request that fails because the database is unreachable answers 503 with Retry-After, never a 500."""

from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_without_exceptions():
    return Client(raise_request_exception=False)


def test_a_postback_while_the_database_is_down_answers_503_problem_with_retry_after(client_without_exceptions):
    with mock.patch("integrations.views.source_runtime", side_effect=OperationalError("connection refused")):
        response = client_without_exceptions.get("/postback/crm/?type=ftd&event_id=1")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "database_unavailable"
    assert response.json()["title"] == "Service unavailable"


def test_an_api_call_while_the_database_is_down_answers_503(client_without_exceptions):
    with mock.patch("core.auth.authenticate_key", side_effect=OperationalError("terminating connection")):
        response = client_without_exceptions.get("/api/v1/brands", HTTP_AUTHORIZATION="Bearer x")
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"


def test_another_server_error_stays_a_500(client_without_exceptions):
    with mock.patch("integrations.views.source_runtime", side_effect=RuntimeError("a bug")):
        response = client_without_exceptions.get("/postback/crm/?type=ftd&event_id=1")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "Retry-After" not in response


def test_a_page_outside_the_api_while_the_database_is_down_answers_a_plain_503(rf):
    from config.errors import server_error

    try:
        raise OperationalError("the database system is shutting down")
    except OperationalError:
        response = server_error(rf.get("/admin/"))  # as Django calls handler500, inside the exception
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"].startswith("text/plain")

"""Every API error is application/problem+json with type, title, status, detail and errors."""

import json

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://") and body["title"] and body["detail"]
    assert body["errors"] and all(set(e) >= {"field", "message"} for e in body["errors"])
    if code:
        assert body["code"] == code and body["type"].endswith("/" + code)
    return body


def test_malformed_json_is_a_400_problem(mgmt):
    response = mgmt.generic("POST", "/api/v1/brands", '{"slug": "a",', content_type="application/json")

    body = assert_problem(response, 400, "parse_error")
    assert body["detail"].startswith("JSON parse error")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_and_infinity_literals_are_refused(mgmt, constant):
    raw = '{"slug": "a", "name": "A", "attribution_window_days": ' + constant + "}"

    response = mgmt.generic("POST", "/api/v1/brands", raw, content_type="application/json")

    assert "is not a number JSON allows" in assert_problem(response, 400, "parse_error")["detail"]


def test_deeply_nested_json_is_a_parse_error_not_a_crash(mgmt):
    raw = "[" * 100_000 + "]" * 100_000

    response = mgmt.generic("POST", "/api/v1/brands", raw, content_type="application/json")

    assert_problem(response, 400, "parse_error")


@pytest.mark.parametrize(
    "content_type, body",
    [("application/x-www-form-urlencoded", "slug=a&name=A"), ("text/plain", "hello"), ("application/xml", "<a/>")],
)
def test_other_content_types_are_415(mgmt, content_type, body):
    response = mgmt.generic("POST", "/api/v1/brands", body, content_type=content_type)

    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("url", ["/api/v1/nothing-here", "/api/v1/brands/999999", "/api/nope", "/api/v1/deals/abc"])
def test_unknown_urls_under_api_are_404_problems(mgmt, url):
    assert_problem(mgmt.get(url), 404)


def test_method_not_allowed_is_a_405_problem(mgmt):
    assert_problem(mgmt.delete("/api/v1/brands"), 405, "method_not_allowed")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
@pytest.mark.parametrize("idempotent", [False, True])
def test_oversized_body_is_a_413_problem(mgmt, idempotent):
    raw = json.dumps({"slug": "a", "name": "A" * 2000})
    headers = {"HTTP_IDEMPOTENCY_KEY": "big-1"} if idempotent else {}

    response = mgmt.generic("POST", "/api/v1/brands", raw, content_type="application/json", **headers)

    assert "1000 bytes" in assert_problem(response, 413, "request_too_large")["detail"]


def test_body_that_is_not_an_object_is_a_400_problem(mgmt):
    response = mgmt.post("/api/v1/brands", [1, 2], format="json")

    body = assert_problem(response, 400, "validation_error")
    assert body["errors"][0]["field"] is None


def test_validation_errors_name_the_field_with_nested_paths(mgmt):
    from affiliates.tests.factories import BrandFactory

    BrandFactory(slug="lucky")
    payload = {"brand": "lucky", "name": "X", "kind": "cpa", "currency": "EUR", "cpa_amount": "10.00",
               "tiers": [{"min_ftds": 5, "cpa_amount": "-1"}]}  # fmt: skip

    body = assert_problem(mgmt.post("/api/v1/deals", payload, format="json"), 400, "validation_error")

    assert body["errors"] == [
        {"field": "tiers[0].cpa_amount", "message": "Ensure this value is greater than or equal to 0."}
    ]


def test_a_database_conflict_past_the_validators_is_a_409_problem(mgmt):
    from unittest import mock

    from django.db import IntegrityError

    with mock.patch("affiliates.services.affiliate_create", side_effect=IntegrityError("duplicate key")):
        response = mgmt.post("/api/v1/affiliates", {"name": "A", "email": "a@example.com"}, format="json")

    assert_problem(response, 409, "conflict")

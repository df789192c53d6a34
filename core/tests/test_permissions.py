"""Key scopes are enforced in one place: no key 401, bad key 401, wrong scope 403, right scope 200."""

import pytest
from rest_framework.test import APIClient

from affiliates.tests.factories import AffiliateFactory, BrandFactory, DealAssignmentFactory, DealFactory
from core.keys import api_key_create, api_key_revoke
from integrations.tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


@pytest.fixture
def objects():
    brand = BrandFactory(slug="lucky")
    affiliate = AffiliateFactory()
    deal = DealFactory(brand=brand)
    assignment = DealAssignmentFactory(deal=deal, affiliate=affiliate)
    return {"brand": brand, "affiliate": affiliate, "deal": deal, "assignment": assignment}


def management_endpoints(o) -> list[tuple[str, str]]:
    a, d, s, b = o["affiliate"].pk, o["deal"].pk, o["assignment"].pk, o["brand"].pk
    return [
        ("get", "/api/v1/brands"),
        ("post", "/api/v1/brands"),
        ("get", f"/api/v1/brands/{b}"),
        ("patch", f"/api/v1/brands/{b}"),
        ("put", f"/api/v1/brands/{b}"),
        ("get", "/api/v1/affiliates"),
        ("post", "/api/v1/affiliates"),
        ("get", f"/api/v1/affiliates/{a}"),
        ("patch", f"/api/v1/affiliates/{a}"),
        ("post", f"/api/v1/affiliates/{a}/approve"),
        ("post", f"/api/v1/affiliates/{a}/suspend"),
        ("post", f"/api/v1/affiliates/{a}/reject"),
        ("get", "/api/v1/deals"),
        ("post", "/api/v1/deals"),
        ("get", f"/api/v1/deals/{d}"),
        ("patch", f"/api/v1/deals/{d}"),
        ("put", f"/api/v1/deals/{d}"),
        ("get", f"/api/v1/deals/{d}/versions"),
        ("get", "/api/v1/deal-assignments"),
        ("post", "/api/v1/deal-assignments"),
        ("get", f"/api/v1/deal-assignments/{s}"),
        ("delete", f"/api/v1/deal-assignments/{s}"),
    ]


def _assert_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "errors"} <= set(body)
    assert all({"field", "message"} <= set(e) for e in body["errors"])
    return body


def test_no_key_is_401_with_www_authenticate_on_every_management_endpoint(objects):
    client = APIClient()
    for method, url in management_endpoints(objects):
        response = getattr(client, method)(url, {}, format="json")
        _assert_problem(response, 401)
        assert response["WWW-Authenticate"] == 'Bearer realm="api"', url


@pytest.mark.parametrize(
    "header",
    [
        "Bearer mgmt_000000000000_unknownsecretunknownsecret",
        "Bearer not-a-key",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Token abc",
    ],
)
def test_malformed_or_unknown_key_is_401(objects, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/v1/brands")

    _assert_problem(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_revoked_key_is_401(objects):
    key, raw = api_key_create(name="old", scope="management")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/brands").status_code == 200

    api_key_revoke(key=key)

    _assert_problem(client.get("/api/v1/brands"), 401)


@pytest.mark.parametrize("scope", ["partner", "source"])
def test_partner_and_source_keys_are_403_on_every_management_endpoint(api, objects, scope):
    subject = {"affiliate": objects["affiliate"]} if scope == "partner" else {"source": SourceFactory()}
    client = api(scope, **subject)
    for method, url in management_endpoints(objects):
        response = getattr(client, method)(url, {}, format="json")
        body = _assert_problem(response, 403)
        assert body["detail"] == "This API key's scope does not allow this endpoint.", url
    assert objects["assignment"].__class__.objects.filter(pk=objects["assignment"].pk).exists()


def test_management_key_reaches_every_management_endpoint(mgmt, objects):
    for method, url in management_endpoints(objects):
        if method in ("get",):
            assert getattr(mgmt, method)(url).status_code == 200, url
    assert mgmt.delete(f"/api/v1/deal-assignments/{objects['assignment'].pk}").status_code == 204


@pytest.mark.urls("core.tests.scope_urls")
@pytest.mark.parametrize(
    "scope, allowed",
    [("management", "management"), ("partner", "partner"), ("source", "source")],
)
def test_each_scope_reaches_only_its_own_endpoints(api, scope, allowed):
    affiliate, source = AffiliateFactory(), SourceFactory()
    subject = {"partner": {"affiliate": affiliate}, "source": {"source": source}}.get(scope, {})
    client = api(scope, **subject)

    answers = {target: client.get(f"/echo/{target}") for target in ("management", "partner", "source")}

    assert answers[allowed].status_code == 200
    assert answers[allowed].json() == {
        "scope": scope,
        "affiliate": affiliate.pk if scope == "partner" else None,
        "source": source.pk if scope == "source" else None,
    }
    for target, response in answers.items():
        if target != allowed:
            _assert_problem(response, 403)

"""The management API's part of the OpenAPI schema generates without a warning and validates."""

from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema


def test_management_api_schema_has_no_warnings_and_is_valid():
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/v1/", include("affiliates.api.urls"))])

    schema = generator.get_schema(request=None, public=True)

    warnings = dict(GENERATOR_STATS._warn_cache) | dict(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()
    assert warnings == {}
    validate_schema(schema)
    paths = set(schema["paths"])
    assert {
        "/api/v1/brands", "/api/v1/brands/{id}", "/api/v1/affiliates", "/api/v1/affiliates/{id}",
        "/api/v1/affiliates/{id}/approve", "/api/v1/affiliates/{id}/suspend", "/api/v1/affiliates/{id}/reject",
        "/api/v1/deals", "/api/v1/deals/{id}", "/api/v1/deals/{id}/versions", "/api/v1/deal-assignments",
        "/api/v1/deal-assignments/{id}",
    } <= {p.rstrip("/") for p in paths}  # fmt: skip
    terms = schema["components"]["schemas"]["DealTerms"]["properties"]
    assert terms["cpa_amount"]["type"] == "string" and terms["cpa_amount"]["format"] == "decimal"


def test_schema_and_docs_are_served_without_a_key(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = client.get("/api/docs/")
    GENERATOR_STATS.reset()

    assert schema.status_code == 200
    assert (
        "/api/v1/deals/{id}/versions/" in schema.json()["paths"]
        or "/api/v1/deals/{id}/versions" in schema.json()["paths"]
    )
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()

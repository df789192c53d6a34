"""Brands API: create, read, update, list; bad input is a problem naming the field."""

import pytest

from affiliates.models import Brand
from affiliates.tests.factories import BrandFactory

pytestmark = pytest.mark.django_db

VALID = {
    "slug": "lucky-casino", "name": "Lucky Casino", "vertical": "casino", "currency": "EUR",
    "timezone": "Europe/Malta", "click_param": "clickid", "attribution_window_days": 45,
}  # fmt: skip


def errors_of(response) -> dict[str, str]:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 400 and body["title"] and body["detail"] and body["type"]
    return {e["field"]: e["message"] for e in body["errors"]}


def test_create_brand_stores_exact_values(mgmt):
    response = mgmt.post("/api/v1/brands", VALID, format="json")

    assert response.status_code == 201
    brand = Brand.objects.get(slug="lucky-casino")
    assert (brand.name, brand.vertical, brand.currency, brand.timezone) == (
        "Lucky Casino",
        "casino",
        "EUR",
        "Europe/Malta",
    )
    assert (brand.click_param, brand.attribution_window_days, brand.is_active) == ("clickid", 45, True)
    assert response.json() == {**VALID, "id": brand.pk, "website": "", "is_active": True,
                               "created_at": response.json()["created_at"]}  # fmt: skip


def test_create_brand_defaults_click_param_and_currency(mgmt):
    response = mgmt.post("/api/v1/brands", {"slug": "fx", "name": "FX"}, format="json")

    assert response.status_code == 201
    assert response.json()["click_param"] == "click_id"
    assert response.json()["currency"] == "EUR"
    assert response.json()["timezone"] == "UTC"


def test_read_update_and_list_brands(mgmt):
    brand = BrandFactory(slug="b1", name="B One")

    assert mgmt.get(f"/api/v1/brands/{brand.pk}").json()["slug"] == "b1"
    patched = mgmt.patch(f"/api/v1/brands/{brand.pk}", {"name": "Renamed", "currency": "USD"}, format="json")
    listed = mgmt.get("/api/v1/brands")

    assert patched.status_code == 200
    brand.refresh_from_db()
    assert (brand.name, brand.currency, brand.timezone) == ("Renamed", "USD", "Europe/Malta")
    assert [b["slug"] for b in listed.json()["results"]] == ["b1"]


def test_brands_cannot_be_deleted(mgmt):
    brand = BrandFactory()

    assert mgmt.delete(f"/api/v1/brands/{brand.pk}").status_code == 405
    assert Brand.objects.filter(pk=brand.pk).exists()


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"colour": "red"}, "colour", "Unknown field."),
        ({"id": 5}, "id", "This field is read-only."),
        ({"currency": "EURO"}, "currency", "'EURO' is not an ISO 4217 currency code."),
        ({"currency": "XXX"}, "currency", "'XXX' is not an ISO 4217 currency code."),
        ({"currency": "eur"}, "currency", "'eur' is not an ISO 4217 currency code."),
        ({"currency": 978}, "currency", "'978' is not an ISO 4217 currency code."),
        ({"timezone": "Mars/Olympus"}, "timezone", "'Mars/Olympus' is not an IANA time zone."),
        ({"timezone": "CEST"}, "timezone", "'CEST' is not an IANA time zone."),
        ({"vertical": "lottery"}, "vertical", '"lottery" is not a valid choice.'),
        ({"slug": "has space"}, "slug", 'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'),
        ({"click_param": "a b"}, "click_param", "Letters, digits, '_' and '-' only."),
        ({"attribution_window_days": 0}, "attribution_window_days", "Ensure this value is greater than or equal to 1."),
        ({"attribution_window_days": "ten"}, "attribution_window_days", "A valid integer is required."),
        ({"attribution_window_days": 10**9}, "attribution_window_days",
         "Ensure this value is less than or equal to 3650."),
        ({"is_active": "perhaps"}, "is_active", "Must be a valid boolean."),
        ({"name": ["x"]}, "name", "Not a valid string."),
    ],
)  # fmt: skip
def test_bad_brand_input_is_refused(mgmt, change, field, message):
    errors = errors_of(mgmt.post("/api/v1/brands", {**VALID, **change}, format="json"))

    assert errors[field] == message
    assert not Brand.objects.exists()


def test_duplicate_slug_is_refused(mgmt):
    BrandFactory(slug="lucky-casino")

    assert (
        errors_of(mgmt.post("/api/v1/brands", VALID, format="json"))["slug"] == "brand with this slug already exists."
    )


def test_missing_required_fields_are_named(mgmt):
    errors = errors_of(mgmt.post("/api/v1/brands", {}, format="json"))

    assert errors == {"slug": "This field is required.", "name": "This field is required."}

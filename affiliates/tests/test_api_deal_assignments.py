"""Deal assignments API: create, list, delete; no overlaps (own, default, open-ended); overrides."""

import datetime as dt

import pytest

from affiliates.models import DealAssignment
from affiliates.tests.factories import AffiliateFactory, BrandFactory, DealAssignmentFactory, DealFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    brand = BrandFactory(slug="lucky-casino")
    return {"brand": brand, "deal": DealFactory(brand=brand, name="CPA"), "affiliate": AffiliateFactory()}


def make(deal, affiliate, valid_from="2020-01-01", valid_to=None):
    to_date = dt.date.fromisoformat
    return DealAssignmentFactory(
        deal=deal, affiliate=affiliate, valid_from=to_date(valid_from), valid_to=valid_to and to_date(valid_to)
    )


def errors_of(response) -> dict[str, str]:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def assign(mgmt, setup, **fields):
    payload = {"deal": setup["deal"].pk, "affiliate": setup["affiliate"].pk, "valid_from": "2026-01-01", **fields}
    return mgmt.post("/api/v1/deal-assignments", payload, format="json")


def test_create_assignment_stores_exact_values(mgmt, setup):
    response = assign(mgmt, setup, valid_to="2026-06-30", overrides={"cpa_amount": "250.00"}, note="VIP")

    assert response.status_code == 201, response.content
    row = DealAssignment.objects.get()
    assert (row.deal, row.affiliate, row.brand) == (setup["deal"], setup["affiliate"], setup["brand"])
    assert (str(row.valid_from), str(row.valid_to), row.overrides, row.note) == (
        "2026-01-01", "2026-06-30", {"cpa_amount": "250.00"}, "VIP",
    )  # fmt: skip
    assert response.json() == {
        "id": row.pk, "deal": setup["deal"].pk, "affiliate": setup["affiliate"].pk, "brand": "lucky-casino",
        "valid_from": "2026-01-01", "valid_to": "2026-06-30", "overrides": {"cpa_amount": "250.00"}, "note": "VIP",
        "created_at": response.json()["created_at"],
    }  # fmt: skip


def test_default_assignment_has_no_affiliate(mgmt, setup):
    response = assign(mgmt, setup, affiliate=None)

    assert response.status_code == 201
    assert DealAssignment.objects.get().affiliate is None


@pytest.mark.parametrize(
    "existing, new",
    [
        (("2026-01-01", "2026-03-31"), ("2026-03-31", "2026-05-31")),  # shares the last day
        (("2026-01-01", "2026-03-31"), ("2025-06-01", "2026-01-01")),  # shares the first day
        (("2026-01-01", "2026-12-31"), ("2026-03-01", "2026-04-01")),  # inside
        (("2026-03-01", "2026-04-01"), ("2026-01-01", "2026-12-31")),  # around
        (("2026-01-01", None), ("2030-01-01", "2030-12-31")),  # existing open-ended
        (("2026-06-01", "2026-06-30"), ("2026-01-01", None)),  # new open-ended
        (("2026-01-01", None), ("2025-01-01", None)),  # both open-ended
    ],
)
@pytest.mark.parametrize("default", [False, True])
def test_overlapping_assignments_are_refused(mgmt, setup, existing, new, default):
    affiliate = None if default else setup["affiliate"]
    first = make(setup["deal"], affiliate, existing[0], existing[1])

    response = assign(mgmt, setup, affiliate=affiliate and affiliate.pk, valid_from=new[0], valid_to=new[1])

    assert errors_of(response)["valid_from"].startswith(f"Overlaps assignment #{first.pk} (CPA, {existing[0]} – ")
    assert DealAssignment.objects.count() == 1


@pytest.mark.parametrize(
    "existing, new",
    [
        (("2026-01-01", "2026-03-31"), ("2026-04-01", None)),  # the next day
        (("2026-04-01", None), ("2026-01-01", "2026-03-31")),  # ends the day before
    ],
)
def test_adjacent_assignments_are_allowed(mgmt, setup, existing, new):
    make(setup["deal"], setup["affiliate"], existing[0], existing[1])

    assert assign(mgmt, setup, valid_from=new[0], valid_to=new[1]).status_code == 201


def test_own_and_default_assignments_do_not_clash_nor_other_affiliates_or_brands(mgmt, setup):
    make(setup["deal"], None, "2026-01-01")
    make(setup["deal"], AffiliateFactory(), "2026-01-01")
    other_brand_deal = DealFactory(brand=BrandFactory(slug="fx"))
    make(other_brand_deal, setup["affiliate"], "2026-01-01")

    assert assign(mgmt, setup).status_code == 201


def test_a_second_deal_of_the_same_brand_overlapping_is_refused(mgmt, setup):
    DealAssignmentFactory(deal=DealFactory(brand=setup["brand"], name="Other"), affiliate=setup["affiliate"])

    assert "Overlaps assignment" in errors_of(assign(mgmt, setup))["valid_from"]


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"valid_to": "2025-12-31"}, "valid_to", "Must be on or after valid_from."),
        ({"valid_from": "01/01/2026"}, "valid_from",
         "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."),
        ({"valid_from": None}, "valid_from", "This field may not be null."),
        ({"deal": 999999}, "deal", 'Invalid pk "999999" - object does not exist.'),
        ({"affiliate": 999999}, "affiliate", 'Invalid pk "999999" - object does not exist.'),
        ({"brand": "lucky-casino"}, "brand", "This field is read-only."),
        ({"priority": 1}, "priority", "Unknown field."),
        ({"overrides": {"name": "Mine"}}, "overrides", "Not overridable: name."),
        ({"overrides": {"kind": "cpl", "currency": "USD"}}, "overrides", "Not overridable: currency, kind."),
        ({"overrides": {"cpa_amount": "-1"}}, "overrides.cpa_amount",
         "Ensure this value is greater than or equal to 0."),
        ({"overrides": {"cpa_amount": "0"}}, "overrides.cpa_amount",
         "A CPA deal needs cpa_amount or country_amounts above zero."),
        ({"overrides": {"cpa_amount": "1e400"}}, "overrides.cpa_amount",
         "Ensure that there are no more than 18 digits in total."),
        ({"overrides": {"cpa_amount": "NaN"}}, "overrides.cpa_amount", "A valid number is required."),
        ({"overrides": {"hold_days": 400}}, "overrides.hold_days", "Ensure this value is less than or equal to 365."),
        ({"overrides": {"country_amounts": {"XX": "10"}}}, "overrides.country_amounts",
         "'XX' is not an ISO 3166-1 alpha-2 country code."),
        ({"overrides": ["cpa_amount"]}, "overrides", "Must be an object of term names to values."),
        ({"affiliate": None, "overrides": {"cpa_amount": "1"}}, "overrides",
         "Overrides apply to one affiliate; a default assignment has none."),
    ],
)  # fmt: skip
def test_bad_assignment_input_is_refused(mgmt, setup, change, field, message):
    assert errors_of(assign(mgmt, setup, **change))[field] == message
    assert not DealAssignment.objects.exists()


@pytest.mark.parametrize(
    "overrides, stored",
    [
        ({"cpa_amount": "250"}, {"cpa_amount": "250.00"}),
        ({"hold_days": 7, "subaffiliate_percent": "2.5"}, {"hold_days": 7, "subaffiliate_percent": "2.5000"}),
        ({"qualification": {"min_ftd": "50"}}, {"qualification": {"min_ftd": "50.00", "min_deposits": "0.00",
          "min_wagering": "0.00", "min_lots": "0.0000", "min_bets": 0, "window_days": 30}}),
        ({"country_amounts": {"de": "300"}}, {"country_amounts": {"DE": "300.00"}}),
    ],
)  # fmt: skip
def test_valid_overrides_are_stored_clean(mgmt, setup, overrides, stored):
    response = assign(mgmt, setup, overrides=overrides)

    assert response.status_code == 201, response.content
    assert DealAssignment.objects.get().overrides == stored


def test_inactive_deal_cannot_be_assigned(mgmt, setup):
    setup["deal"].is_active = False
    setup["deal"].save()

    assert errors_of(assign(mgmt, setup))["deal"] == "This deal is inactive."


def test_delete_assignment(mgmt, setup):
    row = DealAssignmentFactory(deal=setup["deal"], affiliate=setup["affiliate"])

    response = mgmt.delete(f"/api/v1/deal-assignments/{row.pk}")

    assert response.status_code == 204
    assert not DealAssignment.objects.exists()
    assert mgmt.delete(f"/api/v1/deal-assignments/{row.pk}").status_code == 404


def test_assignments_cannot_be_edited(mgmt, setup):
    row = DealAssignmentFactory(deal=setup["deal"], affiliate=setup["affiliate"])

    assert mgmt.patch(f"/api/v1/deal-assignments/{row.pk}", {"note": "x"}, format="json").status_code == 405


def test_filter_assignments_by_active_on_affiliate_and_brand(mgmt, setup):
    a = setup["affiliate"]
    past = make(setup["deal"], a, "2025-01-01", "2025-12-31")
    current = make(setup["deal"], a, "2026-01-01")
    default = make(setup["deal"], None, "2025-06-01", "2026-02-28")
    other = make(DealFactory(brand=BrandFactory(slug="fx")), a, "2020-01-01")

    def ids(query):
        response = mgmt.get(f"/api/v1/deal-assignments?{query}")
        assert response.status_code == 200, response.content
        return sorted(row["id"] for row in response.json()["results"])

    assert ids("active_on=2025-12-31") == sorted([past.pk, default.pk, other.pk])
    assert ids("active_on=2026-01-01") == sorted([current.pk, default.pk, other.pk])
    assert ids("active_on=2026-03-01&brand=lucky-casino") == [current.pk]
    assert ids(f"affiliate={a.pk}&brand=lucky-casino") == sorted([past.pk, current.pk])
    assert ids("affiliate__isnull=true") == [default.pk]
    assert errors_of(mgmt.get("/api/v1/deal-assignments?active_on=someday"))["active_on"] == "Enter a valid date."

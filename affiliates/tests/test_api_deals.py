"""Deals API: every kind, kind-specific requirements, bad terms, versioned updates and their history."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from affiliates.models import Deal, DealAssignment, DealVersion
from affiliates.tests.factories import BrandFactory, DealAssignmentFactory, DealFactory

pytestmark = pytest.mark.django_db

CONTRACT_EXAMPLE = {
    "name": "Casino CPA DE", "brand": "lucky-casino", "kind": "hybrid",
    "currency": "EUR", "hold_days": 30, "countries": ["DE", "AT"],
    "cpa_amount": "200.00",
    "qualification": {"min_ftd": "20.00", "min_deposits": "50.00", "min_wagering": "0",
                      "min_lots": "0", "window_days": 30},
    "revshare_percent": "25", "negative_carryover": False,
    "tiers": [{"min_ftds": 10, "cpa_amount": "250.00"}, {"min_revenue": "10000", "revshare_percent": "35"}],
    "rebate_per_lot": "0", "prop_percent": "0", "cpl_amount": "0",
    "subaffiliate_percent": "5",
}  # fmt: skip


@pytest.fixture
def brand():
    return BrandFactory(slug="lucky-casino", timezone="Europe/Malta")


def errors_of(response) -> dict[str, str]:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def test_create_the_contract_example_stores_exact_terms(mgmt, brand):
    response = mgmt.post("/api/v1/deals", {**CONTRACT_EXAMPLE, "effective_from": "2026-01-01"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["version"], body["brand"], body["kind"], body["effective_from"]) == (1, "lucky-casino", "hybrid",
                                                                                     "2026-01-01")  # fmt: skip
    assert body["countries"] == ["AT", "DE"]
    assert body["tiers"] == [{"min_ftds": 10, "cpa_amount": "250.00"},
                             {"min_revenue": "10000.00", "revshare_percent": "35.0000"}]  # fmt: skip
    version = DealVersion.objects.get(deal_id=body["id"])
    assert version.cpa_amount == Decimal("200.00") and version.revshare_percent == Decimal("25")
    assert version.subaffiliate_percent == Decimal("5") and version.hold_days == 30
    assert version.qualification == {"min_ftd": "20.00", "min_deposits": "50.00", "min_wagering": "0.00",
                                     "min_lots": "0.0000", "min_bets": 0, "window_days": 30}  # fmt: skip
    assert version.effective_from == dt.date(2026, 1, 1)


def test_effective_from_defaults_to_today_in_the_brand_time_zone(mgmt, brand):
    # 23:30 UTC on 31 Dec is already 1 Jan in Malta
    with time_machine.travel(dt.datetime(2025, 12, 31, 23, 30, tzinfo=dt.UTC), tick=False):
        response = mgmt.post("/api/v1/deals", CONTRACT_EXAMPLE, format="json")

    assert response.json()["effective_from"] == "2026-01-01"


@pytest.mark.parametrize(
    "kind, terms, stored",
    [
        ("cpa", {"cpa_amount": "150.00"}, {"cpa_amount": Decimal("150.00")}),
        ("cpa", {"country_amounts": {"de": "250.00"}}, {"country_amounts": {"DE": "250.00"}}),
        ("revshare", {"revshare_percent": "30.5", "negative_carryover": True},
         {"revshare_percent": Decimal("30.5"), "negative_carryover": True}),
        ("hybrid", {"cpa_amount": "100", "revshare_percent": "20"},
         {"cpa_amount": Decimal("100.00"), "revshare_percent": Decimal("20")}),
        ("cpl", {"cpl_amount": "5.50"}, {"cpl_amount": Decimal("5.50")}),
        ("rebate", {"rebate_per_lot": "7.00"}, {"rebate_per_lot": Decimal("7.00")}),
        ("rebate", {"rebate_groups": [{"name": "FX", "instruments": ["EURUSD"], "per_lot": "8.00"}]},
         {"rebate_groups": [{"name": "FX", "instruments": ["EURUSD"], "per_lot": "8.00", "lot_factor": "1.000000"}]}),
        ("prop", {"prop_percent": "15"}, {"prop_percent": Decimal("15")}),
        ("prop", {"prop_pass_amount": "50.00"}, {"prop_pass_amount": Decimal("50.00")}),
        ("prop", {"prop_funded_amount": "120.00", "prop_include_resets": False},
         {"prop_funded_amount": Decimal("120.00"), "prop_include_resets": False}),
    ],
)  # fmt: skip
def test_every_kind_is_created_with_its_terms(mgmt, brand, kind, terms, stored):
    payload = {"brand": "lucky-casino", "name": f"{kind} deal", "kind": kind, "currency": "USD", **terms}

    response = mgmt.post("/api/v1/deals", payload, format="json")

    assert response.status_code == 201, response.content
    version = DealVersion.objects.get(deal_id=response.json()["id"])
    assert {name: getattr(version, name) for name in stored} == stored
    assert version.currency == "USD" and version.kind == kind


@pytest.mark.parametrize(
    "kind, terms, field, message",
    [
        ("cpa", {}, "cpa_amount", "A CPA deal needs cpa_amount or country_amounts above zero."),
        ("hybrid", {"cpa_amount": "100"}, "revshare_percent", "A hybrid deal needs revshare_percent."),
        ("hybrid", {"revshare_percent": "20"}, "cpa_amount", "A hybrid deal needs a CPA amount."),
        ("revshare", {"cpa_amount": "100"}, "revshare_percent", "A RevShare deal needs revshare_percent."),
        ("cpl", {}, "cpl_amount", "A CPL deal needs cpl_amount above zero."),
        ("rebate", {}, "rebate_per_lot", "A rebate deal needs rebate_per_lot or rebate_groups."),
        ("prop", {}, "prop_percent", "A prop deal needs prop_percent, prop_pass_amount or prop_funded_amount."),
    ],
)
def test_kind_specific_terms_are_required(mgmt, brand, kind, terms, field, message):
    payload = {"brand": "lucky-casino", "name": "D", "kind": kind, "currency": "EUR", **terms}

    assert errors_of(mgmt.post("/api/v1/deals", payload, format="json"))[field] == message
    assert not Deal.objects.exists()


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"bonus": "1"}, "bonus", "Unknown field."),
        ({"version": 3}, "version", "Unknown field."),
        ({"kind": "lottery"}, "kind", '"lottery" is not a valid choice.'),
        ({"brand": "nope"}, "brand", "Object with slug=nope does not exist."),
        ({"currency": "EURO"}, "currency", "Ensure this field has no more than 3 characters."),
        ({"currency": "ABC"}, "currency", "'ABC' is not an ISO 4217 currency code."),
        ({"cpa_amount": "-200.00"}, "cpa_amount", "Ensure this value is greater than or equal to 0."),
        ({"cpa_amount": "1e400"}, "cpa_amount", "Ensure that there are no more than 18 digits in total."),
        ({"cpa_amount": "NaN"}, "cpa_amount", "A valid number is required."),
        ({"cpa_amount": "Infinity"}, "cpa_amount", "A valid number is required."),
        ({"cpa_amount": "-Infinity"}, "cpa_amount", "A valid number is required."),
        ({"cpa_amount": "200.001"}, "cpa_amount", "Ensure that there are no more than 2 decimal places."),
        ({"cpa_amount": "100000000.01"}, "cpa_amount", "Ensure this value is less than or equal to 100000000."),
        ({"cpa_amount": "two hundred"}, "cpa_amount", "A valid number is required."),
        ({"cpa_amount": [200]}, "cpa_amount", "A valid number is required."),
        ({"revshare_percent": "100.01"}, "revshare_percent", "Ensure this value is less than or equal to 100."),
        ({"revshare_percent": "25.00001"}, "revshare_percent", "Ensure that there are no more than 4 decimal places."),
        ({"hold_days": 366}, "hold_days", "Ensure this value is less than or equal to 365."),
        ({"hold_days": "thirty"}, "hold_days", "A valid integer is required."),
        ({"countries": ["DE", "XX"]}, "countries", "'XX' is not an ISO 3166-1 alpha-2 country code."),
        ({"countries": "DE"}, "countries", 'Expected a list of items but got type "str".'),
        ({"country_amounts": {"ZZ": "10"}}, "country_amounts", "'ZZ' is not an ISO 3166-1 alpha-2 country code."),
        ({"country_amounts": {"DE": "-1"}}, "country_amounts.DE", "Ensure this value is greater than or equal to 0."),
        ({"qualification": {"min_ftd": "20", "max_ftd": "1"}}, "qualification.max_ftd", "Unknown field."),
        ({"qualification": {"window_days": 0}}, "qualification.window_days",
         "Ensure this value is greater than or equal to 1."),
        ({"tiers": [{"min_ftds": 5, "min_revenue": "10", "cpa_amount": "1"}]}, "tiers[0]",
         "A tier has exactly one threshold: min_ftds or min_revenue."),
        ({"tiers": [{"min_ftds": 5}]}, "tiers[0]",
         "A tier sets at least one rate: cpa_amount, revshare_percent or rebate_per_lot."),
        ({"valid_from": "2026-05-01", "valid_to": "2026-04-01"}, "valid_to", "Must be on or after valid_from."),
        ({"effective_from": "yesterday"}, "effective_from",
         "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."),
        ({"negative_carryover": "maybe"}, "negative_carryover", "Must be a valid boolean."),
    ],
)  # fmt: skip
def test_bad_deal_terms_are_refused(mgmt, brand, change, field, message):
    errors = errors_of(mgmt.post("/api/v1/deals", {**CONTRACT_EXAMPLE, **change}, format="json"))

    assert errors[field] == message
    assert not Deal.objects.exists()


def test_json_number_literals_for_money_are_exact_and_1e400_is_refused(mgmt, brand):
    import json

    raw = json.dumps({**CONTRACT_EXAMPLE, "cpa_amount": "__N__"})
    ok = mgmt.generic("POST", "/api/v1/deals", raw.replace('"__N__"', "199.99"), content_type="application/json")
    bad = mgmt.generic(
        "POST", "/api/v1/deals", raw.replace('"__N__"', "1e400").replace("Casino CPA DE", "Other"),
        content_type="application/json",
    )  # fmt: skip

    assert ok.status_code == 201 and ok.json()["cpa_amount"] == "199.99"
    assert errors_of(bad)["cpa_amount"] == "Ensure that there are no more than 18 digits in total."


def test_rebate_groups_must_not_share_instruments(mgmt, brand):
    groups = [
        {"name": "FX", "instruments": ["EURUSD"], "per_lot": "8"},
        {"name": "Majors", "instruments": ["EURUSD"], "per_lot": "9"},
    ]
    payload = {"brand": "lucky-casino", "name": "R", "kind": "rebate", "currency": "USD", "rebate_groups": groups}

    assert errors_of(mgmt.post("/api/v1/deals", payload, format="json"))["rebate_groups"] == (
        "An instrument belongs to one group only."
    )


def test_duplicate_deal_name_per_brand_is_refused(mgmt, brand):
    mgmt.post("/api/v1/deals", CONTRACT_EXAMPLE, format="json")

    errors = errors_of(mgmt.post("/api/v1/deals", CONTRACT_EXAMPLE, format="json"))

    assert errors["name"] == "This brand already has a deal with this name."
    assert Deal.objects.count() == 1


def test_update_makes_a_new_version_and_keeps_the_old_one_readable(mgmt, brand):
    deal_id = mgmt.post("/api/v1/deals", {**CONTRACT_EXAMPLE, "effective_from": "2026-01-01"}, format="json").json()[
        "id"
    ]

    response = mgmt.patch(
        f"/api/v1/deals/{deal_id}",
        {"cpa_amount": "220.00", "effective_from": "2026-03-01", "change_note": "Q2 raise"},
        format="json",
    )
    versions = mgmt.get(f"/api/v1/deals/{deal_id}/versions")

    assert response.status_code == 200, response.content
    assert (response.json()["version"], response.json()["cpa_amount"]) == (2, "220.00")
    assert response.json()["effective_from"] == "2026-03-01"
    assert response.json()["revshare_percent"] == "25.0000"  # untouched terms carry over
    rows = versions.json()["results"]
    assert [(r["version"], r["effective_from"], r["terms"]["cpa_amount"], r["change_note"]) for r in rows] == [
        (2, "2026-03-01", "220.00", "Q2 raise"),
        (1, "2026-01-01", "200.00", "created"),
    ]
    assert DealVersion.objects.get(deal_id=deal_id, version=1).cpa_amount == Decimal("200.00")


def test_full_update_with_put_makes_a_new_version(mgmt, brand):
    deal = DealFactory(brand=brand, name="Plain CPA")

    response = mgmt.put(
        f"/api/v1/deals/{deal.pk}",
        {"name": "Plain CPA", "kind": "cpa", "currency": "EUR", "cpa_amount": "300.00", "effective_from": "2026-02-01"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert (response.json()["version"], response.json()["cpa_amount"]) == (2, "300.00")


def test_update_without_a_change_makes_no_new_version(mgmt, brand):
    deal = DealFactory(brand=brand)

    response = mgmt.patch(f"/api/v1/deals/{deal.pk}", {"cpa_amount": "200.00", "hold_days": 30}, format="json")

    assert response.status_code == 200
    assert response.json()["version"] == 1
    assert DealVersion.objects.filter(deal=deal).count() == 1


def test_update_effective_before_the_current_version_is_refused(mgmt, brand):
    deal = DealFactory(brand=brand, effective_from=dt.date(2026, 3, 1))

    response = mgmt.patch(
        f"/api/v1/deals/{deal.pk}", {"cpa_amount": "1.00", "effective_from": "2026-02-28"}, format="json"
    )

    assert errors_of(response)["effective_from"] == "Must not be before the current version's start (2026-03-01)."
    assert DealVersion.objects.filter(deal=deal).count() == 1


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"brand": "other-brand"}, "brand", "A deal's brand cannot change."),
        ({"bonus": "1"}, "bonus", "Unknown field."),
        ({"cpa_amount": "-5"}, "cpa_amount", "Ensure this value is greater than or equal to 0."),
        ({"cpa_amount": "0"}, "cpa_amount", "A CPA deal needs cpa_amount or country_amounts above zero."),
        ({"currency": "XYZ"}, "currency", "'XYZ' is not an ISO 4217 currency code."),
        ({"effective_from": "2026-13-01"}, "effective_from",
         "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."),
    ],
)  # fmt: skip
def test_bad_updates_are_refused_and_make_no_version(mgmt, brand, change, field, message):
    BrandFactory(slug="other-brand")
    deal = DealFactory(brand=brand)

    assert errors_of(mgmt.patch(f"/api/v1/deals/{deal.pk}", change, format="json"))[field] == message
    assert DealVersion.objects.filter(deal=deal).count() == 1


def test_update_body_must_be_an_object(mgmt, brand):
    deal = DealFactory(brand=brand)

    response = mgmt.patch(f"/api/v1/deals/{deal.pk}", ["cpa_amount"], format="json")

    assert response.status_code == 400
    assert DealVersion.objects.filter(deal=deal).count() == 1


def test_assigned_deal_keeps_its_kind(mgmt, brand):
    deal = DealFactory(brand=brand)
    DealAssignmentFactory(deal=deal)

    response = mgmt.patch(f"/api/v1/deals/{deal.pk}", {"kind": "cpl", "cpl_amount": "5"}, format="json")

    assert errors_of(response)["kind"] == "An assigned deal keeps its kind; create a new deal instead."


def test_filter_deals_by_brand_and_kind(mgmt, brand):
    other = BrandFactory(slug="fx-broker")
    DealFactory(brand=brand, name="Casino CPA")
    DealFactory(brand=brand, name="Casino CPL", terms={"kind": "cpl", "currency": "EUR", "cpl_amount": "5"})
    DealFactory(brand=other, name="FX CPA")

    def names(query):
        response = mgmt.get(f"/api/v1/deals?{query}")
        assert response.status_code == 200
        return sorted(d["name"] for d in response.json()["results"])

    assert names("brand=lucky-casino") == ["Casino CPA", "Casino CPL"]
    assert names("kind=cpa") == ["Casino CPA", "FX CPA"]
    assert names("brand=lucky-casino&kind=cpl") == ["Casino CPL"]
    assert names("brand=unknown") == []


def test_deal_list_costs_a_fixed_number_of_queries(mgmt, brand, django_assert_max_num_queries):
    for n in range(5):
        DealFactory(brand=brand, name=f"Deal {n}")
    mgmt.get("/api/v1/deals")  # warm the key cache

    with django_assert_max_num_queries(4):
        response = mgmt.get("/api/v1/deals")

    assert len(response.json()["results"]) == 5


def test_closing_a_deal_refuses_new_assignments_but_keeps_existing_ones(mgmt):
    from affiliates.tests.factories import AffiliateFactory

    # given a deal assigned to one affiliate
    assignment = DealAssignmentFactory()
    deal = assignment.deal
    # when a manager closes it
    response = mgmt.post(f"/api/v1/deals/{deal.pk}/close")
    # then it is inactive, the existing assignment stays, and a new assignment is refused
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert DealAssignment.objects.filter(pk=assignment.pk).exists()
    other = AffiliateFactory()
    new = {"deal": deal.pk, "affiliate": other.pk, "valid_from": "2026-01-01"}
    refused = mgmt.post("/api/v1/deal-assignments", new)
    assert refused.status_code == 400
    assert refused.json()["errors"] == [{"field": "deal", "message": "This deal is inactive."}]
    # and opening it again allows assignments
    assert mgmt.post(f"/api/v1/deals/{deal.pk}/open").json()["is_active"] is True
    assert mgmt.post("/api/v1/deal-assignments", new).status_code == 201

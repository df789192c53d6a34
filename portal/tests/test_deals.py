"""`deals`: the partner sees its own assignments and the brand defaults that apply to it, with every
version of the terms (which applied when) and its overrides; never another affiliate's."""

import datetime as dt

import pytest

from affiliates import services
from affiliates.tests.factories import AffiliateFactory, BrandFactory, DealAssignmentFactory, DealFactory

pytestmark = pytest.mark.django_db

URL = "/api/partner/v1/deals"


@pytest.fixture
def deals():
    """Brand `casino`: a CPA deal, v1 200.00 from 2020-01-01, v2 250.00 from 2026-06-01, assigned to
    `mine` with a 300.00 override; its default deal is shadowed for `mine` but applies to `other`.
    Brand `sports`: only a default deal, which applies to both."""
    casino, sports = BrandFactory(slug="casino"), BrandFactory(slug="sports")
    mine, other = AffiliateFactory(), AffiliateFactory()
    cpa = DealFactory(brand=casino, name="CPA DE")
    services.deal_update(
        deal=cpa, terms={"cpa_amount": "250.00"}, effective_from=dt.date(2026, 6, 1), note="raised for Q3"
    )
    own = DealAssignmentFactory(deal=cpa, affiliate=mine, overrides={"cpa_amount": "300.00"})
    casino_default = DealAssignmentFactory(deal=DealFactory(brand=casino, name="Casino default"), affiliate=None)
    sports_default = DealAssignmentFactory(deal=DealFactory(brand=sports, name="Sports default"), affiliate=None)
    return {"mine": mine, "other": other, "own": own, "casino_default": casino_default, "sports": sports_default}


def test_partner_sees_its_own_assignment_and_the_defaults_that_apply_to_it(api, deals):
    listed = api("partner", affiliate=deals["mine"]).get(URL).json()["results"]
    assert sorted((row["id"], row["is_default"]) for row in listed) == sorted(
        [(deals["own"].pk, False), (deals["sports"].pk, True)]
    )


def test_another_affiliate_sees_the_default_but_never_my_assignment(api, deals):
    other = api("partner", affiliate=deals["other"])
    listed = other.get(URL).json()["results"]
    assert sorted(row["id"] for row in listed) == sorted([deals["casino_default"].pk, deals["sports"].pk])
    assert other.get(f"{URL}/{deals['own'].pk}").status_code == 404


def test_every_version_of_the_terms_with_its_period_note_and_overrides(api, deals):
    answer = api("partner", affiliate=deals["mine"]).get(f"{URL}/{deals['own'].pk}")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["brand"], body["deal_name"], body["kind"], body["current_version"]) == ("casino", "CPA DE", "cpa", 2)
    assert body["overrides"] == {"cpa_amount": "300.00"}
    assert body["valid_from"] == "2020-01-01" and body["valid_to"] is None
    v1, v2 = body["versions"]
    assert (v1["version"], v1["effective_from"], v1["effective_to"], v1["change_note"]) == (
        1, "2020-01-01", "2026-05-31", "created",
    )  # fmt: skip
    assert (v2["version"], v2["effective_from"], v2["effective_to"], v2["change_note"]) == (
        2, "2026-06-01", None, "raised for Q3",
    )  # fmt: skip
    assert (v1["terms"]["cpa_amount"], v2["terms"]["cpa_amount"]) == ("200.00", "250.00")
    assert (v1["applied_terms"]["cpa_amount"], v2["applied_terms"]["cpa_amount"]) == ("300.00", "300.00")
    assert v1["terms"]["hold_days"] == 30 and v1["terms"]["currency"] == "EUR"


def test_a_default_partly_shadowed_by_an_own_assignment_still_shows(api):
    brand = BrandFactory()
    mine = AffiliateFactory()
    default = DealAssignmentFactory(deal=DealFactory(brand=brand), affiliate=None, valid_from=dt.date(2020, 1, 1))
    DealAssignmentFactory(
        deal=DealFactory(brand=brand), affiliate=mine, valid_from=dt.date(2021, 1, 1), valid_to=dt.date(2021, 12, 31)
    )
    listed = api("partner", affiliate=mine).get(URL).json()["results"]
    assert default.pk in [row["id"] for row in listed]


def test_a_default_wholly_covered_by_own_assignments_in_a_row_is_left_out(api):
    brand = BrandFactory()
    mine = AffiliateFactory()
    default = DealAssignmentFactory(
        deal=DealFactory(brand=brand), affiliate=None, valid_from=dt.date(2021, 3, 1), valid_to=dt.date(2021, 9, 30)
    )
    deal = DealFactory(brand=brand)
    DealAssignmentFactory(deal=deal, affiliate=mine, valid_from=dt.date(2021, 1, 1), valid_to=dt.date(2021, 5, 31))
    DealAssignmentFactory(deal=deal, affiliate=mine, valid_from=dt.date(2021, 6, 1), valid_to=dt.date(2021, 12, 31))
    listed = api("partner", affiliate=mine).get(URL).json()["results"]
    assert default.pk not in [row["id"] for row in listed]
    assert len(listed) == 2


def test_an_unknown_or_malformed_id_is_not_found(api, deals):
    partner = api("partner", affiliate=deals["mine"])
    assert partner.get(f"{URL}/999999").status_code == 404
    assert partner.get(f"{URL}/abc").status_code == 404

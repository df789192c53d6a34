"""`deal_in_force`: own assignment over the brand default, validity dates, the version effective on the day."""

import datetime as dt
from decimal import Decimal

import pytest

from affiliates import services
from affiliates.models import DealVersion
from affiliates.selectors import deal_in_force
from affiliates.tests.factories import AffiliateFactory, BrandFactory, DealAssignmentFactory, DealFactory

pytestmark = pytest.mark.django_db
D = dt.date


@pytest.fixture
def world():
    brand = BrandFactory(slug="lucky-casino")
    default_deal = DealFactory(brand=brand, name="Default CPA", effective_from=D(2026, 1, 1))
    own_deal = DealFactory(brand=brand, name="VIP CPA", effective_from=D(2026, 1, 1))
    services.deal_update(deal=own_deal, terms={"cpa_amount": "300.00"}, effective_from=D(2026, 4, 1))
    affiliate = AffiliateFactory()
    DealAssignmentFactory(deal=default_deal, affiliate=None, valid_from=D(2026, 1, 1))
    DealAssignmentFactory(
        deal=own_deal, affiliate=affiliate, valid_from=D(2026, 2, 1), valid_to=D(2026, 6, 30),
        overrides={"hold_days": 7},
    )  # fmt: skip
    return {"brand": brand, "affiliate": affiliate, "default": default_deal, "own": own_deal}


@pytest.mark.parametrize(
    "on, deal, version, cpa, overrides",
    [
        (D(2026, 1, 31), "default", 1, "200.00", {}),  # before the own assignment starts
        (D(2026, 2, 1), "own", 1, "200.00", {"hold_days": 7}),  # own wins from its first day
        (D(2026, 3, 31), "own", 1, "200.00", {"hold_days": 7}),  # v1 the day before v2
        (D(2026, 4, 1), "own", 2, "300.00", {"hold_days": 7}),  # v2 on its effective day
        (D(2026, 6, 30), "own", 2, "300.00", {"hold_days": 7}),  # last day of the own assignment
        (D(2026, 7, 1), "default", 1, "200.00", {}),  # back to the default after valid_to
    ],
)
def test_deal_in_force_on_each_day(world, on, deal, version, cpa, overrides):
    found, found_overrides = deal_in_force(affiliate=world["affiliate"], brand=world["brand"], on=on)

    assert found.deal == world[deal]
    assert (found.version, found.cpa_amount) == (version, Decimal(cpa))
    assert found_overrides == overrides


def test_nothing_in_force_before_any_assignment_or_version(world):
    assert deal_in_force(affiliate=world["affiliate"], brand=world["brand"], on=D(2025, 12, 31)) is None


def test_other_affiliates_get_the_brand_default(world):
    found, overrides = deal_in_force(affiliate=AffiliateFactory(), brand=world["brand"], on=D(2026, 5, 1))

    assert (found.deal, overrides) == (world["default"], {})


def test_other_brand_has_nothing_in_force(world):
    assert deal_in_force(affiliate=world["affiliate"], brand=BrandFactory(slug="fx"), on=D(2026, 5, 1)) is None


def test_deal_validity_dates_limit_when_it_is_in_force():
    brand = BrandFactory()
    terms = {"kind": "cpl", "currency": "EUR", "cpl_amount": "5.00", "valid_from": "2026-03-01",
             "valid_to": "2026-03-31"}  # fmt: skip
    deal = DealFactory(brand=brand, terms=terms, effective_from=D(2026, 1, 1))
    affiliate = AffiliateFactory()
    DealAssignmentFactory(deal=deal, affiliate=affiliate, valid_from=D(2026, 1, 1))

    def on(day):
        return deal_in_force(affiliate=affiliate, brand=brand, on=day)

    assert on(D(2026, 2, 28)) is None
    assert on(D(2026, 3, 1))[0].cpl_amount == Decimal("5.00")
    assert on(D(2026, 3, 31)) is not None
    assert on(D(2026, 4, 1)) is None


def test_deal_update_with_no_change_makes_no_new_version():
    deal = DealFactory(effective_from=D(2026, 1, 1))

    same = services.deal_update(deal=deal, terms={"cpa_amount": "200.00"}, effective_from=D(2026, 5, 1))

    assert same.version == 1
    assert DealVersion.objects.filter(deal=deal).count() == 1
    deal.refresh_from_db()
    assert deal.current_version == 1

"""`stats`: the partner's clicks, registrations, FTDs, deposits, revenue and commission per group, read
by aggregate queries; another affiliate's activity never shows."""

from decimal import Decimal

import pytest
import time_machine

from affiliates.tests.factories import AffiliateFactory, BrandFactory
from commissions.choices import EntryKind, EntryStatus
from tracking.choices import ClickFlag, EventStatus, EventType
from tracking.tests.factories import ClickFactory, ConversionEventFactory, CustomerFactory, TrackingLinkFactory

from .factories import CommissionEntryFactory, at

pytestmark = pytest.mark.django_db

URL = "/api/partner/v1/stats"
ZERO = {"clicks": 0, "registrations": 0, "ftds": 0, "deposits": 0, "deposit_amount": "0.00", "revenue": "0.00",
        "commission": []}  # fmt: skip


def traffic(affiliate, casino, sports):
    """casino / DE / sub1 fb on 11-02: 3 billable clicks and 1 duplicate, a registration, FTD 50.00,
    CPA 200.00; on 11-03 a deposit 20.00 and revenue 12.50, RevShare 3.13. sports / AT / sub1 tt on
    11-03: 1 click, a registration, FTD 30.00. Never counted: a rejected deposit, a test deposit, a
    rejected entry, activity on 11-10."""
    link = TrackingLinkFactory(affiliate=affiliate, brand=casino)
    for _ in range(3):
        ClickFactory(link=link, created_at=at("2026-11-02", 9), sub1="fb", country="DE")
    ClickFactory(link=link, created_at=at("2026-11-02", 9), sub1="fb", country="DE", flag=ClickFlag.DUPLICATE,
                 is_billable=False)  # fmt: skip
    ClickFactory(link=link, created_at=at("2026-11-10"), sub1="fb", country="DE")
    ClickFactory(link=TrackingLinkFactory(affiliate=affiliate, brand=sports), created_at=at("2026-11-03"),
                 sub1="tt", country="AT")  # fmt: skip
    fb = CustomerFactory(brand=casino, affiliate=affiliate, country="DE", sub1="fb", registered_at=at("2026-11-02"))
    tt = CustomerFactory(brand=sports, affiliate=affiliate, country="AT", sub1="tt", registered_at=at("2026-11-03"))

    def event(customer, type, amount, day, **extra):
        ConversionEventFactory(customer=customer, type=type, amount=Decimal(amount), occurred_at=at(day), **extra)

    event(fb, EventType.FTD, "50.00", "2026-11-02")
    event(fb, EventType.DEPOSIT, "20.00", "2026-11-03")
    event(fb, EventType.REVENUE, "12.50", "2026-11-03")
    event(fb, EventType.DEPOSIT, "100.00", "2026-11-03", status=EventStatus.REJECTED)
    event(fb, EventType.DEPOSIT, "7.00", "2026-11-03", is_test=True)
    event(fb, EventType.DEPOSIT, "5.00", "2026-11-10")
    event(tt, EventType.FTD, "30.00", "2026-11-03")
    entry = {"affiliate": affiliate, "brand": casino, "customer": fb}
    CommissionEntryFactory(**entry, amount=Decimal("200.00"), status=EntryStatus.ON_HOLD, occurred_at=at("2026-11-02"))
    CommissionEntryFactory(**entry, kind=EntryKind.REVSHARE, amount=Decimal("3.13"), occurred_at=at("2026-11-03"))
    CommissionEntryFactory(**entry, amount=Decimal("50.00"), status=EntryStatus.REJECTED, occurred_at=at("2026-11-03"))
    CommissionEntryFactory(**entry, kind=EntryKind.REVSHARE, amount=Decimal("1.00"), occurred_at=at("2026-11-10"))


@pytest.fixture
def partner(api):
    casino, sports = BrandFactory(slug="casino"), BrandFactory(slug="sports")
    mine, other = AffiliateFactory(), AffiliateFactory()
    traffic(mine, casino, sports)
    traffic(other, casino, sports)
    CommissionEntryFactory(affiliate=other, brand=casino, amount=Decimal("999.99"), occurred_at=at("2026-11-02"))
    return api("partner", affiliate=mine)


CASINO = {"clicks": 3, "registrations": 1, "ftds": 1, "deposits": 2, "deposit_amount": "70.00", "revenue": "12.50",
          "commission": [{"currency": "EUR", "amount": "203.13"}]}  # fmt: skip
SPORTS = {"clicks": 1, "registrations": 1, "ftds": 1, "deposits": 1, "deposit_amount": "30.00", "revenue": "0.00",
          "commission": []}  # fmt: skip


def test_by_day_in_utc_with_every_day_of_the_range(partner):
    answer = partner.get(f"{URL}?from=2026-11-01&to=2026-11-04&group_by=day")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["from"], body["to"], body["group_by"], body["currency"]) == (
        "2026-11-01T00:00:00Z", "2026-11-05T00:00:00Z", "day", "EUR",
    )  # fmt: skip
    assert body["results"] == [
        {"group": "2026-11-01", **ZERO},
        {"group": "2026-11-02", "clicks": 3, "registrations": 1, "ftds": 1, "deposits": 1, "deposit_amount": "50.00",
         "revenue": "0.00", "commission": [{"currency": "EUR", "amount": "200.00"}]},
        {"group": "2026-11-03", "clicks": 1, "registrations": 1, "ftds": 1, "deposits": 2, "deposit_amount": "50.00",
         "revenue": "12.50", "commission": [{"currency": "EUR", "amount": "3.13"}]},
        {"group": "2026-11-04", **ZERO},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("group_by", "casino", "sports"), [("brand", "casino", "sports"), ("country", "DE", "AT"), ("sub1", "fb", "tt")]
)
def test_by_brand_country_and_sub_id(partner, group_by, casino, sports):
    body = partner.get(f"{URL}?from=2026-11-02&to=2026-11-03&group_by={group_by}").json()
    assert sorted(body["results"], key=lambda row: row["group"] == sports) == [
        {"group": casino, **CASINO},
        {"group": sports, **SPORTS},
    ]


def test_an_empty_sub_id_is_its_own_group(partner):
    body = partner.get(f"{URL}?from=2026-11-02&to=2026-11-03&group_by=sub2").json()
    assert body["results"] == [
        {"group": "", "clicks": 4, "registrations": 2, "ftds": 2, "deposits": 3, "deposit_amount": "100.00",
         "revenue": "12.50", "commission": [{"currency": "EUR", "amount": "203.13"}]},
    ]  # fmt: skip


def test_a_date_time_range_with_an_offset_is_exclusive_at_its_end(partner):
    body = partner.get(f"{URL}?from=2026-11-02T00:00:00%2B01:00&to=2026-11-02T12:00:00Z&group_by=brand").json()
    assert body["from"] == "2026-11-01T23:00:00Z"
    (row,) = body["results"]
    assert (row["group"], row["clicks"], row["registrations"], row["ftds"], row["commission"]) == (
        "casino", 3, 0, 0, [],
    )  # fmt: skip


def test_default_range_is_the_last_30_days_by_day(partner):
    with time_machine.travel(at("2026-11-03"), tick=False):
        body = partner.get(URL).json()
    assert (body["from"], body["to"], body["group_by"]) == ("2026-10-05T00:00:00Z", "2026-11-04T00:00:00Z", "day")
    assert len(body["results"]) == 30
    assert sum(row["clicks"] for row in body["results"]) == 4


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("group_by=week", "group_by"),
        ("group_by=sub6", "group_by"),
        ("from=2026-02-30", "from"),
        ("to=soon", "to"),
        ("from=2026-11-01T00:00:00", "from"),
        ("from=2026-11-05&to=2026-11-01", "to"),
        ("from=2024-01-01&to=2026-11-01", "from"),
    ],
)
def test_bad_group_by_or_dates_are_a_400_problem(partner, query, field):
    answer = partner.get(f"{URL}?{query}")
    assert answer.status_code == 400
    assert answer["Content-Type"].startswith("application/problem+json")
    assert [error["field"] for error in answer.json()["errors"]] == [field]


def test_stats_read_a_fixed_number_of_queries(partner, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        assert partner.get(f"{URL}?from=2026-11-01&to=2026-11-30&group_by=country").status_code == 200

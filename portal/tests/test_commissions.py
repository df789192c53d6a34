"""`commissions`: the partner's own ledger entries, filtered, and its balance by currency and status."""

from decimal import Decimal

import pytest

from affiliates.tests.factories import AffiliateFactory, BrandFactory, DealFactory
from commissions.choices import EntryKind, EntryStatus

from .factories import CommissionEntryFactory, at

pytestmark = pytest.mark.django_db

URL = "/api/partner/v1/commissions"


@pytest.fixture
def ledger():
    brand = BrandFactory(slug="casino")
    deal = DealFactory(brand=brand)
    mine, other = AffiliateFactory(), AffiliateFactory()

    def entry(**fields):
        return CommissionEntryFactory(affiliate=mine, brand=brand, **fields)

    rows = {
        "cpa": entry(
            kind=EntryKind.CPA, amount=Decimal("200.00"), status=EntryStatus.ON_HOLD, hold_until=at("2026-12-02"),
            deal=deal, deal_version=deal.current, occurred_at=at("2026-11-02"), events=[11, 12],
        ),
        "rs1": entry(kind=EntryKind.REVSHARE, amount=Decimal("0.10"), occurred_at=at("2026-11-03")),
        "rs2": entry(kind=EntryKind.REVSHARE, amount=Decimal("0.20"), occurred_at=at("2026-11-04")),
        "rejected": entry(kind=EntryKind.CPA, amount=Decimal("50.00"), status=EntryStatus.REJECTED),
        "usd": entry(kind=EntryKind.REBATE, amount=Decimal("12.34"), currency="USD", status=EntryStatus.PAID),
    }  # fmt: skip
    theirs = CommissionEntryFactory(affiliate=other, brand=brand, amount=Decimal("999.99"))
    return {"mine": mine, "other": other, "deal": deal, "theirs": theirs, **rows}


def ids(answer) -> set[int]:
    assert answer.status_code == 200, answer.content
    return {row["id"] for row in answer.json()["results"]}


def test_partner_reads_only_its_own_entries(api, ledger):
    partner = api("partner", affiliate=ledger["mine"])
    mine = {ledger[name].pk for name in ("cpa", "rs1", "rs2", "rejected", "usd")}
    assert ids(partner.get(URL)) == mine
    assert partner.get(f"{URL}/{ledger['theirs'].pk}").status_code == 404
    assert ids(api("partner", affiliate=ledger["other"]).get(URL)) == {ledger["theirs"].pk}


def test_an_entry_shows_amount_hold_terms_version_explanation_and_events(api, ledger):
    body = api("partner", affiliate=ledger["mine"]).get(f"{URL}/{ledger['cpa'].pk}").json()
    assert (body["amount"], body["currency"], body["status"], body["kind"]) == ("200.00", "EUR", "on_hold", "cpa")
    assert body["hold_until"] == "2026-12-02T12:00:00Z"
    assert body["deal_version"] == {"deal": ledger["deal"].pk, "version": 1, "effective_from": "2020-01-01"}
    assert body["explanation"] == "cpa 200.00 EUR"
    assert body["events"] == [11, 12]
    assert body["brand"] == "casino"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=approved", {"rs1", "rs2"}),
        ("status=on_hold", {"cpa"}),
        ("kind=cpa", {"cpa", "rejected"}),
        ("kind=revshare&status=approved", {"rs1", "rs2"}),
        ("from=2026-11-03&to=2026-11-03", {"rs1"}),
        ("from=2026-11-03", {"rs1", "rs2"}),
        ("to=2026-11-02T12:00:00Z", set()),
        ("from=2026-11-02T12:00:00%2B00:00&to=2026-11-03T12:00:01Z", {"cpa", "rejected", "usd", "rs1"}),
    ],
)
def test_filters_by_status_kind_and_activity_time(api, ledger, query, expected):
    answer = api("partner", affiliate=ledger["mine"]).get(f"{URL}?{query}")
    assert ids(answer) == {ledger[name].pk for name in expected}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=bogus", "status"),
        ("kind=bonus", "kind"),
        ("from=2026-13-01", "from"),
        ("from=yesterday", "from"),
        ("to=2026-11-02T10:00:00", "to"),
        ("from=2026-11-05&to=2026-11-01", "to"),
    ],
)
def test_bad_filter_values_are_a_400_problem(api, ledger, query, field):
    answer = api("partner", affiliate=ledger["mine"]).get(f"{URL}?{query}")
    assert answer.status_code == 400
    assert answer["Content-Type"].startswith("application/problem+json")
    assert [error["field"] for error in answer.json()["errors"]] == [field]


def test_balance_sums_by_currency_and_status_to_the_cent(api, ledger):
    answer = api("partner", affiliate=ledger["mine"]).get(f"{URL}/balance")
    assert answer.status_code == 200
    assert answer.json() == {
        "results": [
            {
                "currency": "EUR",
                "balance": "200.30",
                "by_status": {"pending": "0.00", "on_hold": "200.00", "approved": "0.30", "paid": "0.00",
                              "rejected": "50.00", "reversed": "0.00"},
            },
            {
                "currency": "USD",
                "balance": "12.34",
                "by_status": {"pending": "0.00", "on_hold": "0.00", "approved": "0.00", "paid": "12.34",
                              "rejected": "0.00", "reversed": "0.00"},
            },
        ]
    }  # fmt: skip


def test_balance_never_includes_another_affiliates_entries(api, ledger):
    body = api("partner", affiliate=ledger["other"]).get(f"{URL}/balance").json()
    assert [(row["currency"], row["balance"]) for row in body["results"]] == [("EUR", "999.99")]
    assert api("partner", affiliate=AffiliateFactory()).get(f"{URL}/balance").json() == {"results": []}


def test_a_reversal_brings_the_balance_back_to_zero(api):
    mine = AffiliateFactory()
    booked = CommissionEntryFactory(affiliate=mine, amount=Decimal("200.00"), status=EntryStatus.REVERSED)
    CommissionEntryFactory(
        affiliate=mine, brand=booked.brand, kind=EntryKind.REVERSAL, amount=Decimal("-200.00"), reverses=booked
    )
    (row,) = api("partner", affiliate=mine).get(f"{URL}/balance").json()["results"]
    assert row["balance"] == "0.00"
    assert (row["by_status"]["reversed"], row["by_status"]["approved"]) == ("200.00", "-200.00")

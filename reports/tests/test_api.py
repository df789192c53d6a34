"""`GET /api/v1/reports` and `/api/v1/reports/cohorts`: rollup figures to the cent, CSV, bad input as problems."""

import csv
import io
from decimal import Decimal

import pytest
import time_machine

from affiliates.tests.factories import AffiliateFactory, BrandFactory
from commissions.choices import EntryStatus
from portal.tests.factories import CommissionEntryFactory, at
from portal.tests.test_stats import traffic
from reports import upkeep
from tracking.choices import EventType
from tracking.tests.factories import ConversionEventFactory, CustomerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports"


@pytest.fixture
def programme():
    casino, sports = BrandFactory(slug="casino", name="Casino"), BrandFactory(slug="sports", name="Sports")
    kings, other = AffiliateFactory(name="Kings"), AffiliateFactory(name="Other")
    traffic(kings, casino, sports)
    traffic(other, casino, sports)
    with time_machine.travel(at("2026-11-20"), tick=False):
        upkeep.rollups_build()
    return {"casino": casino, "sports": sports, "kings": kings, "other": other}


def test_by_affiliate_sums_both_affiliates_from_the_rollups(mgmt, programme):
    answer = mgmt.get(f"{URL}?from=2026-11-02&to=2026-11-03&group_by=affiliate")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    kings, other = programme["kings"], programme["other"]
    row = {"clicks": 4, "registrations": 2, "ftds": 2, "deposits": 3, "deposit_amount": "100.00", "revenue": "12.50",
           "commission": [{"currency": "EUR", "amount": "203.13"}]}  # fmt: skip
    assert body["results"] == [
        {"group": str(kings.pk), "label": "Kings", **row},
        {"group": str(other.pk), "label": "Other", **row},
    ]
    assert (body["group_by"], body["currency"], body["from"]) == ("affiliate", "EUR", "2026-11-02T00:00:00Z")


def test_filters_by_brand_and_affiliate(mgmt, programme):
    kings = programme["kings"]
    body = mgmt.get(f"{URL}?from=2026-11-01&to=2026-11-30&group_by=brand&brand=casino&affiliate={kings.pk}").json()
    assert [(r["group"], r["label"], r["clicks"], r["deposit_amount"], r["commission"]) for r in body["results"]] == [
        ("casino", "Casino", 4, "75.00", [{"currency": "EUR", "amount": "204.13"}])
    ]


def test_by_link_names_each_link_by_token(mgmt, programme):
    body = mgmt.get(f"{URL}?from=2026-11-03&to=2026-11-03&group_by=link&brand=sports").json()
    tokens = {link.token for link in programme["kings"].tracking_links.all()} | {
        link.token for link in programme["other"].tracking_links.all()
    }
    # sports' clicks are on the links; its customers have no link of their own ("")
    assert {r["group"] for r in body["results"]} <= tokens | {""}
    assert sum(r["clicks"] for r in body["results"]) == 2
    assert sum(r["ftds"] for r in body["results"]) == 2


def test_changes_after_the_build_show_once_the_refresh_ran(mgmt, programme):
    kings = programme["kings"]
    customer = CustomerFactory(brand=programme["casino"], affiliate=kings, registered_at=at("2026-11-05"))
    ConversionEventFactory(customer=customer, type=EventType.FTD, amount=Decimal("99.99"), occurred_at=at("2026-11-05"))
    upkeep.rollups_mark(pairs=[(kings.pk, at("2026-11-05"))])
    query = f"{URL}?from=2026-11-05&to=2026-11-05&group_by=day&affiliate={kings.pk}"
    assert mgmt.get(query).json()["results"][0]["ftds"] == 0
    upkeep.rollups_refresh(now=at("2026-11-20"))
    (row,) = mgmt.get(query).json()["results"]
    assert (row["group"], row["registrations"], row["ftds"], row["deposit_amount"]) == ("2026-11-05", 1, 1, "99.99")


def test_csv_export_has_a_row_per_group_and_a_column_per_currency(mgmt, programme):
    CommissionEntryFactory(affiliate=programme["kings"], brand=programme["casino"], amount=Decimal("10.00"),
                           currency="USD", occurred_at=at("2026-11-02"))  # fmt: skip
    upkeep.rollups_rebuild(start=at("2026-11-02").date(), end=at("2026-11-02").date())
    answer = mgmt.get(f"{URL}?from=2026-11-02&to=2026-11-02&group_by=country&format=csv")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    assert answer["Content-Disposition"] == 'attachment; filename="report-country-20261102-20261102.csv"'
    lines = list(csv.reader(io.StringIO(answer.content.decode())))
    assert lines[0] == ["group", "label", "clicks", "registrations", "ftds", "deposits", "deposit_amount_EUR",
                        "revenue_EUR", "commission_EUR", "commission_USD"]  # fmt: skip
    # the USD entry has no customer: no country
    assert lines[1:] == [
        ["", "", "0", "0", "0", "0", "0.00", "0.00", "", "10.00"],
        ["DE", "", "6", "2", "2", "2", "100.00", "0.00", "400.00", ""],
    ]


def test_a_formula_in_a_sub_id_is_exported_as_text():
    from reports.export import as_csv

    assert as_csv(["sub1"], [["=HYPERLINK(1)"], ["-12.50"]]).splitlines() == ["sub1", "'=HYPERLINK(1)", "-12.50"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("group_by=week", "group_by"),
        ("brand=nope", "brand"),
        ("affiliate=999999", "affiliate"),
        ("from=2026-11-05&to=2026-11-01", "to"),
        ("from=2024-01-01&to=2026-11-01", "from"),
        ("from=2026-11-01T00:00:00", "from"),
    ],
)
def test_bad_parameters_are_a_400_problem_naming_the_field(mgmt, query, field):
    answer = mgmt.get(f"{URL}?{query}")
    assert answer.status_code == 400
    assert answer["Content-Type"].startswith("application/problem+json")
    assert [error["field"] for error in answer.json()["errors"]] == [field]


def test_a_bad_parameter_with_csv_is_still_a_problem(mgmt):
    answer = mgmt.get(f"{URL}?group_by=week&format=csv")
    assert answer.status_code == 400
    assert answer["Content-Type"].startswith("application/problem+json")


def test_partner_and_missing_keys_are_refused(api, db):
    assert api("partner", affiliate=AffiliateFactory()).get(URL).status_code == 403
    from rest_framework.test import APIClient

    assert APIClient().get(URL).status_code == 401


def test_a_report_reads_a_fixed_number_of_queries(mgmt, programme, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        assert mgmt.get(f"{URL}?from=2026-11-01T06:00:00Z&to=2026-11-30T18:00:00Z&group_by=brand").status_code == 200


# --- Cohorts ----------------------------------------------------------------------------------------


def test_cohorts_count_ftds_revenue_and_commission_within_7_30_and_90_days(mgmt, db):
    brand, affiliate = BrandFactory(slug="casino"), AffiliateFactory()
    early = CustomerFactory(brand=brand, affiliate=affiliate, registered_at=at("2026-09-10"))
    late = CustomerFactory(brand=brand, affiliate=affiliate, registered_at=at("2026-09-20"))
    CustomerFactory(brand=brand, affiliate=affiliate, registered_at=at("2026-10-01"))
    ConversionEventFactory(customer=early, type=EventType.FTD, occurred_at=at("2026-09-12"))
    ConversionEventFactory(customer=late, type=EventType.FTD, occurred_at=at("2026-10-10"))  # day 20
    ConversionEventFactory(
        customer=early, type=EventType.REVENUE, amount=Decimal("40.00"), occurred_at=at("2026-09-15")
    )
    ConversionEventFactory(
        customer=early, type=EventType.REVENUE, amount=Decimal("60.00"), occurred_at=at("2026-11-01")
    )
    ConversionEventFactory(customer=early, type=EventType.REVENUE, amount=Decimal("5.00"), occurred_at=at("2026-12-31"))
    entry = {"affiliate": affiliate, "brand": brand, "customer": early}
    CommissionEntryFactory(**entry, amount=Decimal("200.00"), occurred_at=at("2026-09-12"))
    CommissionEntryFactory(**entry, amount=Decimal("50.00"), status=EntryStatus.REJECTED, occurred_at=at("2026-09-12"))
    with time_machine.travel(at("2026-12-01"), tick=False):
        upkeep.rollups_build()
        answer = mgmt.get("/api/v1/reports/cohorts?from=2026-09&to=2026-10&brand=casino")
    assert answer.status_code == 200, answer.content
    september, october = answer.json()["results"]
    assert (september["month"], september["customers"], october["customers"]) == ("2026-09", 2, 1)
    eur = lambda amount: [{"currency": "EUR", "amount": amount}]  # noqa: E731
    assert september["ages"] == [
        {"days": 7, "ftds": 1, "ftd_rate": "50.00", "revenue": "40.00", "commission": eur("200.00"), "matured": True},
        {"days": 30, "ftds": 2, "ftd_rate": "100.00", "revenue": "40.00", "commission": eur("200.00"),
         "matured": True},
        {"days": 90, "ftds": 2, "ftd_rate": "100.00", "revenue": "100.00", "commission": eur("200.00"),
         "matured": False},
    ]  # fmt: skip


def test_cohort_csv_and_bad_months(mgmt, db):
    with time_machine.travel(at("2026-12-01"), tick=False):
        answer = mgmt.get("/api/v1/reports/cohorts?format=csv")
        assert answer.status_code == 200
        lines = answer.content.decode().splitlines()
        assert lines[0].startswith("month,customers,ftds_d7,ftd_rate_d7,revenue_d7_EUR,matured_d7")
        assert [line.split(",")[0] for line in lines[1:]][:2] == ["2026-01", "2026-02"]
        assert len(lines) == 13
        for query, field in [("from=2026-13", "from"), ("from=2026-10&to=2026-09", "to"), ("from=2020-01", "from")]:
            bad = mgmt.get(f"/api/v1/reports/cohorts?{query}")
            assert bad.status_code == 400, query
            assert [e["field"] for e in bad.json()["errors"]] == [field]


@pytest.mark.parametrize("group_by", ["day", "brand", "country", "sub1", "sub2"])
def test_partner_stats_answer_the_same_from_raw_rows_and_from_rollups(api, db, group_by):
    casino, sports = BrandFactory(slug="casino"), BrandFactory(slug="sports")
    mine = AffiliateFactory()
    traffic(mine, casino, sports)
    traffic(AffiliateFactory(), casino, sports)
    partner = api("partner", affiliate=mine)
    url = f"/api/partner/v1/stats?from=2026-11-01&to=2026-11-12&group_by={group_by}"
    from_raw = partner.get(url).json()
    with time_machine.travel(at("2026-11-20"), tick=False):
        upkeep.rollups_build()
    assert partner.get(url).json() == from_raw

"""The admin's report pages: figures from the rollups, an inline SVG chart, CSV, form errors as messages."""

import pytest
import time_machine

from affiliates.tests.factories import AffiliateFactory, BrandFactory
from portal.tests.factories import at
from portal.tests.test_stats import traffic
from reports import upkeep

pytestmark = pytest.mark.django_db

URL = "/admin/reports/report/"


@pytest.fixture
def staff(admin_client):
    casino, sports = BrandFactory(slug="casino"), BrandFactory(slug="sports")
    traffic(AffiliateFactory(name="Kings"), casino, sports)
    with time_machine.travel(at("2026-11-20"), tick=False):
        upkeep.rollups_build()
    return admin_client


def test_the_report_page_shows_a_chart_and_the_table(staff):
    page = staff.get(f"{URL}?start=2026-11-01&end=2026-11-04&group_by=day")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<svg class="monitoring-chart"' in html
    assert '<script src="http' not in html and "cdn" not in html.lower()  # works offline
    table = page.context["body"]
    assert [line[0] for line in table] == ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
    assert table[1][2:8] == ["3", "1", "1", "1", "50.00", "0.00"]
    assert page.context["totals"]["ftds"] == 2


def test_the_report_page_downloads_the_same_rows_as_csv(staff):
    answer = staff.get(f"{URL}?start=2026-11-02&end=2026-11-03&group_by=brand&format=csv")
    assert answer["Content-Type"].startswith("text/csv")
    lines = answer.content.decode().splitlines()
    assert lines[1].startswith("casino,") and lines[2].startswith("sports,")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-11-05&end=2026-11-01", "must not be after"),
        ("start=2024-01-01&end=2026-11-01", "at most 366 days"),
        ("affiliate=999999", "No affiliate has the id 999999"),
        ("group_by=week", "Select a valid choice"),
    ],
)
def test_bad_report_parameters_show_the_reason(staff, query, message):
    page = staff.get(f"{URL}?{query}")
    assert page.status_code == 200
    assert message in page.content.decode()
    assert "body" not in page.context


def test_the_cohort_page_shows_ftd_rates_per_month(staff):
    with time_machine.travel(at("2026-11-20"), tick=False):
        page = staff.get(f"{URL}cohorts/?start=2026-10&end=2026-11")
        assert page.status_code == 200
        assert [line[:2] for line in page.context["body"]] == [["2026-10", "0"], ["2026-11", "2"]]
        assert page.context["body"][1][3] == "100.00"  # both November customers made an FTD within 7 days
        assert "<svg" in page.content.decode()
        csv = staff.get(f"{URL}cohorts/?start=2026-10&end=2026-11&format=csv")
        assert csv.content.decode().splitlines()[0].startswith("month,customers,ftds_d7")
        assert "must not be after" in staff.get(f"{URL}cohorts/?start=2026-11&end=2026-10").content.decode()


def test_the_default_report_is_the_last_30_days(staff):
    with time_machine.travel(at("2026-11-20"), tick=False):
        page = staff.get(URL)
    assert page.status_code == 200
    assert len(page.context["body"]) == 30

"""FX rates: API, ECB CSV import (crossed to the base currency), lookup."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import override_settings

from integrations.fx import MissingRate, convert, parse_ecb_csv
from integrations.models import FxRate

pytestmark = pytest.mark.django_db

ECB_DAILY = "Date, USD, JPY, GBP, \n27 November 2026, 1.0500, 160.12, 0.8400, \n"
ECB_HIST = "Date,USD,JPY,CYP\n2026-11-27,1.0500,160.12,N/A\n2026-11-26,1.0400,159.00,N/A\n"


def test_ecb_rates_become_base_per_unit():
    rows = {(c, d): r for c, d, r in parse_ecb_csv(ECB_DAILY)}
    assert rows[("USD", dt.date(2026, 11, 27))] == Decimal("0.9523809524")  # 1 / 1.05
    assert rows[("GBP", dt.date(2026, 11, 27))] == Decimal("1.1904761905")
    assert len(parse_ecb_csv(ECB_HIST)) == 4  # N/A cells and currencies we do not know are skipped


@override_settings(BASE_CURRENCY="USD")
def test_ecb_rates_are_crossed_through_eur_for_another_base():
    rows = {c: r for c, _, r in parse_ecb_csv(ECB_DAILY)}
    assert rows["EUR"] == Decimal("1.0500000000")
    assert rows["GBP"] == Decimal("1.2500000000")  # 1.05 / 0.84
    assert "USD" not in rows


@pytest.mark.parametrize(
    "text", ["", "Currency,USD\n2026-11-27,1.05\n", "Date,USD\nyesterday,1.05\n", "Date,USD\n2026-11-27,-1\n"]
)
def test_bad_csv_is_refused(mgmt, text):
    response = mgmt.post("/api/v1/fx-rates/import", {"csv": text}, format="json")
    assert response.status_code == 400
    assert not FxRate.objects.exists()


def test_import_through_the_api_creates_then_replaces(mgmt):
    first = mgmt.post("/api/v1/fx-rates/import", {"csv": ECB_HIST}, format="json").json()
    assert first == {"created": 4, "updated": 0, "days": 2}
    again = mgmt.post("/api/v1/fx-rates/import", {"csv": ECB_HIST}, format="json").json()
    assert again == {"created": 0, "updated": 4, "days": 2}


def test_rates_are_created_and_listed(mgmt):
    response = mgmt.post("/api/v1/fx-rates", {"currency": "USD", "date": "2026-11-27", "rate": "0.95"}, format="json")
    assert response.status_code == 201 and response.json()["origin"] == "api"
    assert (
        mgmt.post(
            "/api/v1/fx-rates", {"currency": "USD", "date": "2026-11-27", "rate": "0.9"}, format="json"
        ).status_code
        == 400
    )
    assert (
        mgmt.post("/api/v1/fx-rates", {"currency": "EUR", "date": "2026-11-27", "rate": "1"}, format="json").status_code
        == 400
    )
    assert (
        mgmt.post("/api/v1/fx-rates", {"currency": "XXQ", "date": "2026-11-27", "rate": "1"}, format="json").status_code
        == 400
    )
    assert (
        mgmt.post("/api/v1/fx-rates", {"currency": "GBP", "date": "2026-11-27", "rate": "0"}, format="json").status_code
        == 400
    )
    assert [r["currency"] for r in mgmt.get("/api/v1/fx-rates").json()["results"]] == ["USD"]


def test_conversion_uses_the_latest_rate_not_after_the_day():
    FxRate.objects.create(currency="USD", date=dt.date(2026, 11, 26), rate=Decimal("0.9"))
    FxRate.objects.create(currency="USD", date=dt.date(2026, 11, 28), rate=Decimal("0.8"))
    at = dt.datetime(2026, 11, 27, 23, 59, tzinfo=dt.UTC)
    conversion = convert(Decimal("10.00"), "USD", at)
    assert (conversion.amount_base, conversion.rate_date) == (Decimal("9.00000000"), dt.date(2026, 11, 26))
    with pytest.raises(MissingRate):
        convert(Decimal("1"), "GBP", at)
    assert convert(Decimal("5.00"), "EUR", at).rate == 1

import datetime as dt

import pytest

from integrations.tests.factories import SourceFactory

from .factories import AlertFactory

pytestmark = pytest.mark.django_db


def test_management_key_lists_alerts_with_contract_fields(mgmt):
    source = SourceFactory(slug="crm")
    opened = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
    alert = AlertFactory(source=source, opened_at=opened, title="CRM: no events for 61 minutes")
    resp = mgmt.get("/api/v1/alerts")
    assert resp.status_code == 200
    (row,) = resp.json()["results"]
    assert row["id"] == alert.pk
    assert row["source"] == "crm"
    assert (row["kind"], row["severity"]) == ("no_events", "critical")
    assert row["opened_at"] == "2026-11-02T10:00:00Z"
    assert row["resolved_at"] is None


def test_alert_read_and_filters(mgmt):
    a = SourceFactory(slug="crm")
    b = SourceFactory(slug="mt5")
    open_one = AlertFactory(source=a)
    AlertFactory(source=b, kind="rejected_share", severity="warning", resolved_at=dt.datetime.now(dt.UTC))
    assert mgmt.get(f"/api/v1/alerts/{open_one.pk}").json()["kind"] == "no_events"
    assert [r["id"] for r in mgmt.get("/api/v1/alerts?open=true").json()["results"]] == [open_one.pk]
    assert [r["source"] for r in mgmt.get("/api/v1/alerts?source=mt5").json()["results"]] == ["mt5"]
    assert mgmt.get("/api/v1/alerts?severity=warning").json()["results"][0]["kind"] == "rejected_share"


def test_alerts_are_read_only(mgmt):
    alert = AlertFactory()
    assert mgmt.post("/api/v1/alerts", {"kind": "no_events"}).status_code == 405
    assert mgmt.patch(f"/api/v1/alerts/{alert.pk}", {"resolved_at": None}).status_code == 405
    assert mgmt.delete(f"/api/v1/alerts/{alert.pk}").status_code == 405


def test_bad_filter_value_is_a_problem(mgmt):
    resp = mgmt.get("/api/v1/alerts?kind=nonsense")
    assert resp.status_code == 400
    assert resp["Content-Type"].startswith("application/problem+json")


@pytest.mark.parametrize("scope", ["partner", "source"])
def test_other_scopes_cannot_read_alerts(api, scope):
    from affiliates.tests.factories import AffiliateFactory

    subject = {"affiliate": AffiliateFactory()} if scope == "partner" else {"source": SourceFactory()}
    assert api(scope, **subject).get("/api/v1/alerts").status_code == 403


def test_unknown_alert_is_404(mgmt):
    assert mgmt.get("/api/v1/alerts/999999").status_code == 404

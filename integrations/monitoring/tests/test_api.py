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


def test_reconciliation_through_the_api_answers_the_lines(mgmt):
    from decimal import Decimal

    from tracking.tests.factories import ConversionEventFactory, CustomerFactory

    source = SourceFactory(slug="crm", brand__timezone="UTC")
    customer = CustomerFactory(brand=source.brand, external_id="P-1")
    ConversionEventFactory(
        source=source, brand=source.brand, customer=customer, type="ftd", amount=Decimal("50.00"),
        occurred_at=dt.datetime(2026, 11, 3, 12, tzinfo=dt.UTC),
    )  # fmt: skip
    body = {
        "source": "crm", "granularity": "customer", "period_start": "2026-11-01", "period_end": "2026-11-30",
        "csv": "customer_id,ftds,deposits\nP-1,1,75.00\n",
    }  # fmt: skip
    resp = mgmt.post("/api/v1/reconciliations", body, HTTP_IDEMPOTENCY_KEY="rec-1")
    assert resp.status_code == 201, resp.json()
    (line,) = resp.json()["lines"]
    assert line["deposits"] == {"theirs": "75.00", "ours": "50.00", "diff": "-25.00"}
    assert mgmt.post("/api/v1/reconciliations", body, HTTP_IDEMPOTENCY_KEY="rec-1").json()["id"] == resp.json()["id"]
    assert mgmt.get(f"/api/v1/reconciliations/{resp.json()['id']}").json()["summary"]["lines_with_differences"] == 1
    assert [r["id"] for r in mgmt.get("/api/v1/reconciliations?source=crm").json()["results"]] == [resp.json()["id"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"csv": "customer_id,ftds\nP-1,x\n"}, "ftds"),
        ({"source": "nope"}, "source"),
        ({"granularity": "week"}, "granularity"),
        ({"period_start": "01/11/2026"}, "period_start"),
        ({"extra": 1}, "extra"),
    ],
)
def test_reconciliation_api_rejects_bad_input_as_problems(mgmt, change, field):
    SourceFactory(slug="crm")
    body = {
        "source": "crm", "granularity": "customer", "period_start": "2026-11-01", "period_end": "2026-11-30",
        "csv": "customer_id,ftds\nP-1,1\n",
    } | change  # fmt: skip
    resp = mgmt.post("/api/v1/reconciliations", body)
    assert resp.status_code == 400
    assert resp["Content-Type"].startswith("application/problem+json")
    assert field in {e["field"] for e in resp.json()["errors"]}

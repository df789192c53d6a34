"""The pipeline keeps the rollups equal to a rebuild: clicks from the click log, events and registrations
from ingestion, status updates, rejected entries and reassigned customers, each marked where it happens."""

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from affiliates.tests.factories import AffiliateFactory
from commissions.services import commission_reject
from portal.tests.factories import CommissionEntryFactory
from reports import upkeep
from reports.models import CohortRollup, DailyRollup, RollupDirty, RollupState
from tracking.models import Click, Customer
from tracking.redirect import link_cache_forget
from tracking.services import customer_reassign
from tracking.tests.factories import TrackingLinkFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 3, 18, 0, tzinfo=UTC)


def snapshot() -> dict:
    def rows(model, fields):
        return sorted(tuple(str(v) for v in row) for row in model.objects.values_list(*fields))

    return {
        "daily": rows(DailyRollup, [*upkeep.ROLLUP_COLUMNS, *upkeep.MEASURES]),
        "cohorts": rows(CohortRollup, [*upkeep.COHORT_KEYS, *upkeep.COHORT_MEASURES]),
    }


def post_events(client, *events):
    answer = client.post("/api/v1/events", json.dumps({"events": list(events)}), content_type="application/json")
    assert answer.status_code == 202, answer.content
    assert {r["status"] for r in answer.json()["results"]} == {"accepted"}, answer.content


def test_refresh_after_clicks_ingestion_rejections_and_reassignment_equals_a_rebuild(client, source_client):
    source, events_client = source_client()
    affiliate, other = AffiliateFactory(), AffiliateFactory()
    link = TrackingLinkFactory(affiliate=affiliate, brand=source.brand)
    early = CommissionEntryFactory(affiliate=affiliate, brand=source.brand, amount=Decimal("80.00"),
                                   status="pending", occurred_at=NOW - dt.timedelta(days=1))  # fmt: skip
    with time_machine.travel(NOW - dt.timedelta(days=2), tick=False):
        upkeep.rollups_build()
    assert RollupState.objects.get().covered_from == (NOW - dt.timedelta(days=1)).date()
    before = snapshot()

    with time_machine.travel(NOW, tick=False):
        link_cache_forget()
        assert client.get(f"/t/{link.token}?sub1=fb", HTTP_USER_AGENT="Mozilla/5.0 Firefox/130").status_code == 302
        click = Click.objects.get()
        at = NOW.isoformat()
        post_events(
            events_client,
            {"type": "registration", "event_id": "r1", "customer_id": "c1", "click_id": click.click_id,
             "occurred_at": at, "country": "DE"},
            {"type": "ftd", "event_id": "f1", "customer_id": "c1", "amount": "50.00", "currency": "EUR",
             "occurred_at": at},
            {"type": "deposit", "event_id": "d1", "customer_id": "c1", "amount": "20.00", "currency": "EUR",
             "occurred_at": at},
        )  # fmt: skip
        post_events(
            events_client,
            {"type": "status_update", "event_id": "s1", "ref_event_id": "d1", "status": "rejected",
             "customer_id": "c1", "occurred_at": at},
        )  # fmt: skip
        commission_reject(entries=[early], reason="fraud")
        customer_reassign(customer=Customer.objects.get(external_id="c1"), affiliate=other, reason="manual")
    assert RollupDirty.objects.exists()
    assert snapshot() == before  # nothing moves until the upkeep runs

    upkeep.rollups_refresh(now=NOW + dt.timedelta(minutes=2))
    assert not RollupDirty.objects.exists()
    refreshed = snapshot()
    assert refreshed != before
    sub1 = DailyRollup.objects.filter(affiliate_id=link.affiliate_id, dimension="sub1", clicks__gt=0)
    assert list(sub1.values_list("day", "value", "clicks")) == [(NOW.date(), "fb", 1)]
    upkeep.rollups_rebuild(start=NOW.date() - dt.timedelta(days=1), end=NOW.date())
    assert snapshot() == refreshed


def test_a_click_too_young_to_have_settled_waits_for_the_next_refresh(client):
    link = TrackingLinkFactory()
    with time_machine.travel(NOW - dt.timedelta(days=1), tick=False):
        upkeep.rollups_build()
    with time_machine.travel(NOW, tick=False):
        link_cache_forget()
        client.get(f"/t/{link.token}", HTTP_USER_AGENT="Mozilla/5.0 Firefox/130")
    upkeep.rollups_refresh(now=NOW + dt.timedelta(seconds=5))
    assert not DailyRollup.objects.filter(clicks__gt=0).exists()
    upkeep.rollups_refresh(now=NOW + dt.timedelta(seconds=61))
    assert DailyRollup.objects.get(clicks__gt=0, dimension="", affiliate_id=link.affiliate_id).clicks == 1
    assert RollupState.objects.get().click_watermark == Click.objects.get().pk


def test_the_redirect_writes_one_row_and_marks_nothing(client):
    link = TrackingLinkFactory()
    link_cache_forget()
    client.get(f"/t/{link.token}", HTTP_USER_AGENT="Mozilla/5.0 Firefox/130")  # warm the link cache
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/t/{link.token}", HTTP_USER_AGENT="Mozilla/5.0 Firefox/130").status_code == 302
    # (on PostgreSQL the click's INSERT is a prepared statement the capture does not see)
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("INSERT")]
    assert all("tracking_click" in sql for sql in writes)
    assert Click.objects.count() == 2
    assert not RollupDirty.objects.exists()


def test_the_first_refresh_builds_everything_and_starts_the_coverage(db):
    CommissionEntryFactory(occurred_at=dt.datetime(2026, 10, 1, 9, tzinfo=UTC), amount=Decimal("12.34"))
    result = upkeep.rollups_refresh(now=NOW)
    assert result.built
    assert RollupState.objects.get().covered_from == dt.date(2026, 10, 1)
    assert DailyRollup.objects.get(dimension="", affiliate_id=0).commission == Decimal("12.34")
    assert CohortRollup.objects.count() == 0  # an entry without a customer is in no cohort


def test_rebuild_refuses_a_period_that_ends_before_it_starts(db):
    with pytest.raises(ValueError):
        upkeep.rollups_rebuild(start=dt.date(2026, 11, 2), end=dt.date(2026, 11, 1))


def test_the_rebuild_command_builds_once_then_rewrites_periods(db):
    from io import StringIO

    from django.core.management import CommandError, call_command

    CommissionEntryFactory(occurred_at=dt.datetime(2026, 10, 1, 9, tzinfo=UTC))
    out = StringIO()
    call_command("rollups_rebuild", stdout=out)
    assert "Built the rollups" in out.getvalue()
    with pytest.raises(CommandError, match="built already"):
        call_command("rollups_rebuild")
    with pytest.raises(CommandError, match="before"):
        call_command("rollups_rebuild", "--from", "2026-10-02", "--to", "2026-10-01")
    with pytest.raises(CommandError, match="not a day"):
        call_command("rollups_rebuild", "--from", "yesterday", "--to", "2026-10-01")
    call_command("rollups_rebuild", "--from", "2026-10-01", "--to", "2026-10-01", stdout=out)
    assert "Rewrote 2026-10-01" in out.getvalue()

"""The management API over the ledger (CONTRACT.md `commissions`)."""

from decimal import Decimal

import pytest
import time_machine

from affiliates.choices import DealKind
from commissions.choices import EntryStatus
from commissions.models import CommissionEntry
from tracking.choices import EventType as T

from .factories import World, at

pytestmark = pytest.mark.django_db

CPA = {"kind": DealKind.CPA, "currency": "EUR", "cpa_amount": "200.00", "hold_days": 30, "name": "CPA"}


@pytest.fixture
def booked():
    with time_machine.travel(at("2026-11-05"), tick=False):
        world = World(CPA)
        players = [world.customer() for _ in range(3)]
        for player in players:
            world.event(player, T.FTD, "50.00", on="2026-11-02")
    return world, players


def test_list_filters_by_affiliate_customer_status_and_kind(mgmt, booked):
    world, players = booked
    answer = mgmt.get(
        f"/api/v1/commissions?affiliate={world.affiliate.pk}&customer={players[0].pk}&status=on_hold&kind=cpa"
    )
    assert answer.status_code == 200
    (row,) = answer.json()["results"]
    assert row["amount"] == "200.00" and row["currency"] == "EUR" and row["kind"] == "cpa"
    assert row["deal_version"] == world.deal.current.pk
    assert row["hold_until"].startswith("2026-12-02") and row["explanation"].startswith("CPA 200.00 EUR")
    assert len(row["events"]) == 1
    assert mgmt.get("/api/v1/commissions?status=approved").json()["results"] == []


def test_approve_early_then_reject_is_refused(mgmt, booked):
    world, _ = booked
    entry = CommissionEntry.objects.filter(affiliate=world.affiliate).first()
    answer = mgmt.post(f"/api/v1/commissions/{entry.pk}/approve", {"reason": "trusted partner"})
    assert answer.status_code == 200 and answer.json()["status"] == EntryStatus.APPROVED
    refused = mgmt.post(f"/api/v1/commissions/{entry.pk}/reject", {"reason": "late doubt"})
    assert refused.status_code == 409
    assert refused["Content-Type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("entry_not_open")


def test_reject_needs_a_reason_and_rejects_unknown_fields(mgmt, booked):
    world, _ = booked
    entry = CommissionEntry.objects.filter(affiliate=world.affiliate).first()
    assert mgmt.post(f"/api/v1/commissions/{entry.pk}/reject", {}).status_code == 400
    assert mgmt.post(f"/api/v1/commissions/{entry.pk}/reject", {"reason": "x", "amount": "1"}).status_code == 400
    answer = mgmt.post(f"/api/v1/commissions/{entry.pk}/reject", {"reason": "bonus abuse"})
    assert answer.json()["status_reason"] == "bonus abuse"


def test_bulk_reject_is_all_or_none(mgmt, booked):
    world, _ = booked
    ids = list(CommissionEntry.objects.filter(affiliate=world.affiliate).values_list("pk", flat=True))
    mgmt.post(f"/api/v1/commissions/{ids[0]}/approve", {})
    refused = mgmt.post("/api/v1/commissions/bulk-reject", {"ids": ids, "reason": "fraud ring"})
    assert refused.status_code == 409
    assert CommissionEntry.objects.filter(status=EntryStatus.REJECTED).count() == 0
    done = mgmt.post("/api/v1/commissions/bulk-reject", {"ids": ids[1:], "reason": "fraud ring"})
    assert [row["status"] for row in done.json()["results"]] == ["rejected", "rejected"]
    assert mgmt.post("/api/v1/commissions/bulk-approve", {"ids": [999999]}).status_code == 404


def test_recalculate_what_if_then_apply(mgmt, booked):
    world, _ = booked
    # given an event that never reached the engine (its task was lost)
    missed = world.event(world.customer(), T.FTD, "50.00", on="2026-11-03", run=False)
    body = {"affiliate": world.affiliate.pk}
    what_if = mgmt.post("/api/v1/commissions/recalculate", body)
    assert what_if.status_code == 200
    (diff,) = what_if.json()["differences"]
    assert (diff["booked"], diff["intended"], diff["difference"]) == ("0", "200.00", "200.00")
    applied = mgmt.post("/api/v1/commissions/recalculate", {**body, "apply": True})
    assert applied.status_code == 201 and len(applied.json()["booked"]) == 1
    assert CommissionEntry.objects.get(pk=applied.json()["booked"][0]).events == [missed.pk]
    assert mgmt.post("/api/v1/commissions/recalculate", {"period": "2026-11"}).status_code == 400


def test_partner_key_cannot_read_the_management_ledger(api, booked):
    world, _ = booked
    assert api("partner", affiliate=world.affiliate).get("/api/v1/commissions").status_code == 403


def test_amount_is_a_string_in_minor_units(mgmt, booked):
    world, _ = booked
    entry = CommissionEntry.objects.filter(affiliate=world.affiliate).first()
    assert mgmt.get(f"/api/v1/commissions/{entry.pk}").json()["amount"] == str(Decimal("200.00"))

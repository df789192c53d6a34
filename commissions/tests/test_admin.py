"""The ledger admin: read-only rows, bulk reject with a reason, recalculation what-if then apply."""

from decimal import Decimal

import pytest
import time_machine
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from affiliates.choices import DealKind
from commissions.choices import EntryKind, EntryStatus
from commissions.models import CommissionEntry
from tracking.choices import EventType as T

from .factories import World, at

pytestmark = pytest.mark.django_db
URL = reverse("admin:commissions_commissionentry_changelist")


@pytest.fixture
def world():
    with time_machine.travel(at("2026-11-05"), tick=False):
        world = World({"kind": DealKind.CPA, "currency": "EUR", "cpa_amount": "200.00", "hold_days": 30,
                       "name": "CPA"})  # fmt: skip
        for _ in range(2):
            world.event(world.customer(), T.FTD, "50.00", on="2026-11-02")
    return world


def test_list_and_detail_show_amount_and_explanation(admin_client, world):
    entry = CommissionEntry.objects.first()
    assert "200.00 EUR" in admin_client.get(URL).content.decode()
    detail = admin_client.get(reverse("admin:commissions_commissionentry_change", args=[entry.pk]))
    assert entry.explanation[:40] in detail.content.decode()


def test_bulk_reject_asks_for_a_reason_then_rejects(admin_client, world):
    ids = [str(pk) for pk in CommissionEntry.objects.values_list("pk", flat=True)]
    form = admin_client.post(URL, {"action": "reject_selected", ACTION_CHECKBOX_NAME: ids})
    assert form.status_code == 200 and b"reason" in form.content
    assert not CommissionEntry.objects.filter(status=EntryStatus.REJECTED).exists()
    admin_client.post(URL, {"action": "reject_selected", ACTION_CHECKBOX_NAME: ids, "apply": "yes",
                            "reason": "self-referral"})  # fmt: skip
    assert set(CommissionEntry.objects.values_list("status", "status_reason")) == {
        (EntryStatus.REJECTED, "self-referral")
    }


def test_recalculate_shows_the_what_if_then_applies_it(admin_client, world):
    missed = world.event(world.customer(), T.FTD, "50.00", on="2026-11-03", run=False)
    ids = [str(CommissionEntry.objects.first().pk)]
    page = admin_client.post(URL, {"action": "recalculate_affiliates", ACTION_CHECKBOX_NAME: ids})
    assert b"200.00" in page.content and CommissionEntry.objects.count() == 2
    admin_client.post(URL, {"action": "recalculate_affiliates", ACTION_CHECKBOX_NAME: ids, "apply": "yes"})
    adjustment = CommissionEntry.objects.get(kind=EntryKind.ADJUSTMENT)
    assert (adjustment.amount, adjustment.events) == (Decimal("200.00"), [missed.pk])

"""The approval queue: open entries filtered for finance, decided in bulk with a reason, a message per
outcome, and only by people allowed to decide."""

from decimal import Decimal

import pytest
import time_machine
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from affiliates.choices import DealKind
from commissions import services
from commissions.choices import EntryStatus
from commissions.models import CommissionEntry
from core.roles import FINANCE_GROUP, MANAGER_GROUP, READ_ONLY_GROUP
from core.tests.factories import role_user
from tracking.choices import EventType as T

from .factories import ReviewPolicyFactory, World, at

pytestmark = pytest.mark.django_db
QUEUE = reverse("admin:commissions_approvalqueueentry_changelist")
LEDGER = reverse("admin:commissions_commissionentry_changelist")
CPA = {"kind": DealKind.CPA, "currency": "EUR", "cpa_amount": "200.00", "hold_days": 30, "name": "CPA"}


@pytest.fixture
def world():
    with time_machine.travel(at("2026-11-05"), tick=False):
        world = World(CPA)
        ReviewPolicyFactory(brand=world.brand, amount_over=Decimal("250.00"))
        for _ in range(3):
            world.event(world.customer(), T.FTD, "50.00", on="2026-11-02")
        big = World({**CPA, "cpa_amount": "900.00"}, email="big@example.com")
        ReviewPolicyFactory(brand=big.brand, amount_over=Decimal("250.00"))
        big.event(big.customer(), T.FTD, "50.00", on="2026-11-02")
    world.big = big
    return world


def ids(response) -> set[int]:
    return {row.pk for row in response.context["cl"].result_list}


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def finance(client):
    client.force_login(role_user("finn", FINANCE_GROUP))
    return client


def test_queue_lists_open_entries_only(finance, world):
    approved = CommissionEntry.objects.filter(affiliate=world.affiliate).first()
    services.commission_approve(entries=[approved])
    page = finance.get(QUEUE)
    assert page.status_code == 200
    expected = set(CommissionEntry.objects.filter(status__in=["pending", "on_hold"]).values_list("pk", flat=True))
    assert ids(page) == expected and approved.pk not in expected and len(expected) == 3


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("flagged=yes", "big"),
        ("flagged=no", "small"),
        ("amount=1k", "all"),  # 100 to 1,000: 200.00 and 900.00
        ("amount=100", ""),
        ("amount=neg", ""),
        ("amount=10k", ""),
        ("amount=1k&flagged=no", "small"),
        ("age=1d", "all"),
        ("age=7d", ""),
        ("kind=cpa", "all"),
        ("status=on_hold", "all"),
        ("status=pending", ""),
    ],
)
def test_queue_filters(finance, world, query, expected):
    small = set(CommissionEntry.objects.filter(affiliate=world.affiliate).values_list("pk", flat=True))
    big = set(CommissionEntry.objects.filter(affiliate=world.big.affiliate).values_list("pk", flat=True))
    want = {"big": big, "small": small, "all": small | big, "": set()}[expected]
    with time_machine.travel(at("2026-11-05", 18), tick=False):
        assert ids(finance.get(f"{QUEUE}?{query}")) == want


def test_queue_filters_by_brand_and_affiliate(finance, world):
    big = set(CommissionEntry.objects.filter(affiliate=world.big.affiliate).values_list("pk", flat=True))
    assert ids(finance.get(f"{QUEUE}?brand__id__exact={world.big.brand.pk}")) == big
    assert ids(finance.get(f"{QUEUE}?affiliate__id__exact={world.big.affiliate.pk}")) == big


def test_queue_shows_the_review_reason(finance, world):
    page = finance.get(QUEUE).content.decode()
    assert "Amount 900.00 EUR is over the brand&#x27;s review threshold of 250.00 EUR." in page


def test_bulk_approve_asks_for_a_reason_then_reports_approved_and_refused(finance, world):
    entries = list(CommissionEntry.objects.filter(affiliate=world.affiliate).order_by("pk"))
    services.commission_reject(entries=[entries[0]], reason="duplicate account")
    picked = [str(e.pk) for e in entries]
    form = finance.post(QUEUE, {"action": "approve_selected", ACTION_CHECKBOX_NAME: picked})
    assert form.status_code == 200 and b"Reason" in form.content
    assert CommissionEntry.objects.filter(status=EntryStatus.APPROVED).count() == 0
    # the rejected entry is no longer in the queue's list: pick it from the ledger, where it still is
    done = finance.post(LEDGER, {"action": "approve_selected", ACTION_CHECKBOX_NAME: picked, "apply": "yes",
                                 "reason": "verified with the operator"}, follow=True)  # fmt: skip
    said = messages_of(done)
    assert "Approved 2 entries." in said
    assert f"Refused 1 entry: #{entries[0].pk}: it is rejected; only pending or on-hold entries are decided on." in said
    rows = CommissionEntry.objects.filter(pk__in=[e.pk for e in entries[1:]])
    assert set(rows.values_list("status", "status_reason", "decided_by__username")) == {
        (EntryStatus.APPROVED, "verified with the operator", "finn")
    }


def test_bulk_reject_needs_a_reason(finance, world):
    picked = [str(pk) for pk in CommissionEntry.objects.values_list("pk", flat=True)]
    again = finance.post(QUEUE, {"action": "reject_selected", ACTION_CHECKBOX_NAME: picked, "apply": "yes",
                                 "reason": "   "})  # fmt: skip
    assert again.status_code == 200 and b"This field is required." in again.content
    assert not CommissionEntry.objects.filter(status=EntryStatus.REJECTED).exists()
    finance.post(QUEUE, {"action": "reject_selected", ACTION_CHECKBOX_NAME: picked, "apply": "yes",
                         "reason": "bonus abuse ring"})  # fmt: skip
    assert set(CommissionEntry.objects.values_list("status", "status_reason")) == {
        (EntryStatus.REJECTED, "bonus abuse ring")
    }


def test_clear_flag_with_a_note_refuses_unflagged_entries(finance, world):
    flagged = CommissionEntry.objects.get(affiliate=world.big.affiliate)
    plain = CommissionEntry.objects.filter(affiliate=world.affiliate).first()
    note = "Deposits confirmed by the operator."
    picked = [flagged.pk, plain.pk]
    done = finance.post(QUEUE, {"action": "clear_review_flag", ACTION_CHECKBOX_NAME: picked, "apply": "yes",
                                "reason": note}, follow=True)  # fmt: skip
    said = messages_of(done)
    assert "Cleared the review flag of 1 entry." in said
    assert f"Refused 1 entry: #{plain.pk}: it is not flagged for review." in said
    flagged.refresh_from_db()
    assert (flagged.review_flag, flagged.review_note, flagged.review_cleared_by.username) == (
        False, "Deposits confirmed by the operator.", "finn",
    )  # fmt: skip


def test_manager_sees_the_queue_but_cannot_decide_unless_granted(client, world):
    manager = role_user("mia", MANAGER_GROUP)
    client.force_login(manager)
    page = client.get(QUEUE)
    assert page.status_code == 200
    assert page.context["action_form"] is None  # every queue action decides
    ledger = client.get(LEDGER).context["action_form"].fields["action"].choices
    assert [name for name, _ in ledger if name] == ["recalculate_affiliates"]
    picked = [str(pk) for pk in CommissionEntry.objects.values_list("pk", flat=True)]
    client.post(QUEUE, {"action": "approve_selected", ACTION_CHECKBOX_NAME: picked, "apply": "yes", "reason": "x"})
    assert not CommissionEntry.objects.filter(status=EntryStatus.APPROVED).exists()

    manager.user_permissions.add(Permission.objects.get(codename="decide_commissionentry"))
    client.force_login(type(manager).objects.get(pk=manager.pk))  # fresh permission cache
    client.post(QUEUE, {"action": "approve_selected", ACTION_CHECKBOX_NAME: picked, "apply": "yes", "reason": "ok"})
    assert CommissionEntry.objects.filter(status=EntryStatus.APPROVED).count() == len(picked)


def test_read_only_user_sees_everything_and_changes_nothing(client, world):
    client.force_login(role_user("rita", READ_ONLY_GROUP))
    entry = CommissionEntry.objects.first()
    assert client.get(QUEUE).status_code == 200
    assert client.get(LEDGER).status_code == 200
    assert client.get(reverse("admin:commissions_commissionentry_change", args=[entry.pk])).status_code == 200
    affiliate_url = reverse("admin:affiliates_affiliate_change", args=[world.affiliate.pk])
    assert client.get(affiliate_url).status_code == 200
    assert client.get(reverse("admin:affiliates_affiliate_add")).status_code == 403
    assert client.post(affiliate_url, {"name": "Renamed"}).status_code == 403
    picked = [str(pk) for pk in CommissionEntry.objects.values_list("pk", flat=True)]
    for action in ("approve_selected", "reject_selected", "recalculate_affiliates"):
        client.post(LEDGER, {"action": action, ACTION_CHECKBOX_NAME: picked, "apply": "yes", "reason": "x"})
    assert set(CommissionEntry.objects.values_list("status", flat=True)) == {EntryStatus.ON_HOLD}
    assert CommissionEntry.objects.count() == 4
    world.affiliate.refresh_from_db()
    assert world.affiliate.name != "Renamed"


def test_affiliate_filter_searches_affiliates_by_name(finance, world):
    world.big.affiliate.name = "Whale Traffic Ltd"
    world.big.affiliate.save()
    answer = finance.get("/admin/autocomplete/", {"app_label": "commissions", "model_name": "approvalqueueentry",
                                                  "field_name": "affiliate", "term": "Whale"})  # fmt: skip
    assert answer.status_code == 200
    assert [r["id"] for r in answer.json()["results"]] == [str(world.big.affiliate.pk)]

"""The audit log: every change to the audited records, with who, when and why; visible in the admin and
the API, and not editable by anyone."""

from decimal import Decimal

import pytest
import time_machine
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from affiliates import services as affiliate_services
from affiliates.choices import AffiliateStatus, DealKind
from affiliates.models import Affiliate, Deal
from affiliates.tests.factories import AffiliateFactory
from commissions import services
from commissions.choices import EntryStatus
from commissions.models import CommissionEntry
from commissions.tests.factories import World, at
from core.audit import audit_collect, audit_history, audit_record
from core.tests.factories import UserFactory
from tracking.choices import EventStatus
from tracking.choices import EventType as T

pytestmark = pytest.mark.django_db
CPA = {"kind": DealKind.CPA, "currency": "EUR", "cpa_amount": "200.00", "hold_days": 30, "name": "CPA"}
LOG = reverse("admin:auditlog_logentry_changelist")


def history(obj) -> list[LogEntry]:
    return list(audit_history(model=type(obj), pks=[obj.pk]))


@pytest.fixture
def world():
    with time_machine.travel(at("2026-11-05"), tick=False):
        world = World(CPA)
        world.player = world.customer()
        world.ftd = world.event(world.player, T.FTD, "50.00", on="2026-11-02")
    world.entry = CommissionEntry.objects.get(affiliate=world.affiliate)
    return world


def test_payment_details_change_is_logged_with_who_and_what(admin_user):
    affiliate = AffiliateFactory(payment_details={"iban": "DE001"})
    with set_actor(admin_user):
        affiliate_services.affiliate_update(affiliate=affiliate, payment_details={"iban": "DE999"}, by=admin_user)
    (change,) = [e for e in history(affiliate) if e.action == LogEntry.Action.UPDATE]
    assert change.actor == admin_user
    assert "payment_details" in change.changes and "DE999" in change.changes["payment_details"][1]


def test_status_change_in_the_admin_names_the_signed_in_user(admin_client, admin_user):
    pending = AffiliateFactory(status=AffiliateStatus.PENDING)
    admin_client.post(reverse("admin:affiliates_affiliate_changelist"),
                      {"action": "approve_selected", ACTION_CHECKBOX_NAME: [pending.pk]})  # fmt: skip
    pending.refresh_from_db()
    assert pending.status == AffiliateStatus.ACTIVE
    (change,) = [e for e in history(pending) if e.action == LogEntry.Action.UPDATE]
    assert change.actor == admin_user and change.changes["status"] == ["pending", "active"]


def test_deal_change_logs_the_deal_and_its_new_version(admin_user):
    world = World(CPA)
    with set_actor(admin_user):
        version = affiliate_services.deal_update(deal=world.deal, terms={"cpa_amount": "250.00"}, by=admin_user,
                                                 note="Q4 uplift")  # fmt: skip
    created = history(version)
    assert [e.action for e in created] == [LogEntry.Action.CREATE] and created[0].actor == admin_user
    assert created[0].changes["cpa_amount"][1] == "250.00"
    assert any("current_version" in (e.changes or {}) for e in history(Deal.objects.get(pk=world.deal.pk)))


def test_entry_approval_and_rejection_are_logged_with_the_reason(world, admin_user):
    services.commission_approve(entries=[world.entry], reason="Verified deposits.", by=admin_user)
    (record,) = history(world.entry)
    assert record.changes == {"status": ["on_hold", "approved"]}
    assert (record.actor, record.additional_data) == (admin_user, {"reason": "Verified deposits."})


def test_hold_release_logs_each_entry_with_one_insert(world):
    with time_machine.travel(at("2026-11-05"), tick=False):
        for _ in range(4):
            world.event(world.customer(), T.FTD, "50.00", on="2026-11-02")
    with time_machine.travel(at("2026-12-10"), tick=False), CaptureQueriesContext(connection) as queries:
        assert services.commission_release_holds() == 5
    inserts = [q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "auditlog_logentry"')]
    assert len(inserts) == 1
    records = audit_history(model=CommissionEntry, pks=CommissionEntry.objects.values_list("pk", flat=True))
    assert records.count() == 5
    assert {(tuple(r.changes["status"]), r.additional_data["reason"], r.actor_id) for r in records} == {
        (("on_hold", "approved"), "Hold ended.", None)
    }


def test_reversal_of_an_open_entry_is_logged_with_why(world):
    with time_machine.travel(at("2026-11-06"), tick=False):
        world.ftd.__class__.objects.filter(pk=world.ftd.pk).update(status=EventStatus.REJECTED)
        from commissions.tasks import process_event

        process_event(world.ftd.pk)
    world.entry.refresh_from_db()
    assert world.entry.status == EntryStatus.REVERSED
    (record,) = history(world.entry)
    assert record.changes == {"status": ["on_hold", "reversed"]} and "rejected" in record.additional_data["reason"]


def test_audit_record_takes_the_actor_of_the_request_and_batches_inside_collect(world):
    user = UserFactory(username="ops")
    with set_actor(user), CaptureQueriesContext(connection) as queries, audit_collect():
        for n in range(3):
            audit_record(obj=world.entry, changes={"note": (n, n + 1)}, reason=f"step {n}")
    assert sum(q["sql"].startswith('INSERT INTO "auditlog_logentry"') for q in queries.captured_queries) == 1
    rows = history(world.entry)
    assert [(r.actor, r.additional_data["reason"], r.changes["note"]) for r in rows] == [
        (user, "step 2", ["2", "3"]), (user, "step 1", ["1", "2"]), (user, "step 0", ["0", "1"]),
    ]  # fmt: skip


def test_audit_record_needs_an_object():
    with pytest.raises(ValueError):
        audit_record(model=Affiliate, changes={})


# ---- admin -------------------------------------------------------------------------------------------


def test_audit_log_page_lists_and_filters_but_nothing_is_editable_even_by_a_superuser(admin_client, world,
                                                                                      admin_user):  # fmt: skip
    services.commission_approve(entries=[world.entry], reason="ok", by=admin_user)
    page = admin_client.get(LOG)
    assert page.status_code == 200 and page.context["action_form"] is None
    record = history(world.entry)[0]
    assert record.pk in {r.pk for r in page.context["cl"].result_list}
    filtered = admin_client.get(f"{LOG}?actor__id__exact={admin_user.pk}")
    assert {r.pk for r in filtered.context["cl"].result_list} == {record.pk}
    entry_type = record.content_type_id
    by_model = admin_client.get(f"{LOG}?model={entry_type}")
    assert {r.content_type_id for r in by_model.context["cl"].result_list} == {entry_type}
    change_url = reverse("admin:auditlog_logentry_change", args=[record.pk])
    assert admin_client.get(change_url).status_code == 200  # a read-only view
    assert admin_client.post(change_url, {"object_repr": "x"}).status_code == 403
    delete_url = reverse("admin:auditlog_logentry_delete", args=[record.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert admin_client.get(reverse("admin:auditlog_logentry_add")).status_code == 403
    assert LogEntry.objects.filter(pk=record.pk).exists()


def test_history_link_of_an_audited_object_opens_its_rows(admin_client, world, admin_user):
    services.commission_approve(entries=[world.entry], reason="ok", by=admin_user)
    other = AffiliateFactory()
    with set_actor(admin_user):
        affiliate_services.affiliate_update(affiliate=other, notes="met at the expo", by=admin_user)
    answer = admin_client.get(reverse("admin:commissions_commissionentry_history", args=[world.entry.pk]))
    assert answer.status_code == 302 and answer["Location"].startswith(LOG)
    rows = admin_client.get(answer["Location"]).context["cl"].result_list
    assert [r.object_pk for r in rows] == [str(world.entry.pk)]
    detail = admin_client.get(reverse("admin:commissions_commissionentry_change", args=[world.entry.pk]))
    assert b"Audit history" in detail.content


def test_history_is_closed_to_users_who_cannot_see_the_object(client, world):
    client.force_login(UserFactory(username="nobody", is_staff=True))
    answer = client.get(reverse("admin:commissions_commissionentry_history", args=[world.entry.pk]))
    assert answer.status_code == 403


# ---- API ---------------------------------------------------------------------------------------------


def test_api_lists_changes_filtered_by_model_object_actor_and_time(mgmt, world, admin_user):
    with time_machine.travel(at("2026-11-06"), tick=False):
        services.commission_approve(entries=[world.entry], reason="Verified deposits.", by=admin_user)
    with time_machine.travel(at("2026-11-08"), tick=False), set_actor(admin_user):
        affiliate_services.affiliate_update(affiliate=world.affiliate, payout_threshold=Decimal("250.00"),
                                            by=admin_user)  # fmt: skip
    rows = mgmt.get(f"/api/v1/audit-log?model=commissions.commissionentry&object_id={world.entry.pk}").json()
    (row,) = rows["results"]
    assert row["model"] == "commissions.commissionentry" and row["object_id"] == str(world.entry.pk)
    assert (row["action"], row["actor"], row["actor_username"]) == ("update", admin_user.pk, admin_user.username)
    assert row["changes"] == {"status": ["on_hold", "approved"]} and row["reason"] == "Verified deposits."
    by_actor = mgmt.get(f"/api/v1/audit-log?actor={admin_user.pk}").json()["results"]
    assert {r["model"] for r in by_actor} == {"commissions.commissionentry", "affiliates.affiliate"}
    window = mgmt.get("/api/v1/audit-log", {"actor": admin_user.pk, "from": "2026-11-07T00:00:00Z",
                                            "to": "2026-11-09T00:00:00Z"}).json()["results"]  # fmt: skip
    assert [r["model"] for r in window] == ["affiliates.affiliate"]
    assert window[0]["changes"]["payout_threshold"][1] == "250.00"


def test_api_rejects_an_unknown_model_and_a_bad_date_and_writes(mgmt, api):
    unknown = mgmt.get("/api/v1/audit-log?model=core.apikey")
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_model"
    assert unknown["Content-Type"].startswith("application/problem+json")
    assert mgmt.get("/api/v1/audit-log?from=yesterday").status_code == 400
    assert mgmt.post("/api/v1/audit-log", {}).status_code == 405
    partner = api("partner", affiliate=AffiliateFactory())
    assert partner.get("/api/v1/audit-log").status_code == 403


def test_entry_creation_by_the_ledger_writes_no_audit_row(world):
    """The ledger row is its own creation record; the hot path stays one INSERT per entry."""
    assert history(world.entry) == []
    assert world.entry.created_at is not None and world.entry.explanation


def test_closing_a_deal_is_logged_although_it_is_an_update(admin_user):
    world = World(CPA)
    affiliate_services.deal_set_active(deal=world.deal, active=False, by=admin_user)
    (record,) = [e for e in history(world.deal) if e.action == LogEntry.Action.UPDATE]
    assert record.changes["is_active"] == ["True", "False"] and record.actor == admin_user

"""The payouts admin: buttons and actions call the services, say what they refused, and each needs its own
permission (approve_payout, mark_paid_payout)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse

from affiliates.tests.factories import AffiliateFactory, BrandFactory
from commissions.payouts import services
from commissions.payouts.choices import StatementStatus
from commissions.payouts.models import PayoutStatement

from .factories import EntryFactory

pytestmark = pytest.mark.django_db
URL = reverse("admin:payouts_payoutstatement_changelist")
NOW = dt.datetime(2026, 12, 3, 9, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _december():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def statement():
    affiliate = AffiliateFactory(name="Acme Media", payment_method="bank_transfer")
    EntryFactory(affiliate=affiliate, brand=BrandFactory(), amount=Decimal("321.09"))
    [statement] = services.statement_generate(affiliate=affiliate, period="2026-10").statements
    return statement


def staff(django_user_model, client, *codenames):
    user = django_user_model.objects.create_user(username="-".join(codenames) or "viewer", password="x",
                                                 is_staff=True)  # fmt: skip
    perms = Permission.objects.filter(content_type__app_label="payouts", codename__in=codenames)
    user.user_permissions.set(perms)
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_the_list_and_the_detail_show_the_money_and_the_entries(admin_client, statement):
    assert "321.09 EUR" in admin_client.get(URL).content.decode()
    detail = admin_client.get(reverse("admin:payouts_payoutstatement_change", args=[statement.pk])).content.decode()
    assert "1 approved entry: 321.09 EUR" in detail and "test entry" in detail


def test_generate_button_draws_up_the_period_and_reports_it(admin_client, statement):
    url = reverse("admin:payouts_payoutstatement_generate")
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"period": "2026-10"}, follow=True)
    assert "0 statement(s) drawn up, 1 draft(s) refreshed." in messages_of(response)
    bad = admin_client.post(url, {"period": "October"})
    assert "is not a period" in bad.content.decode()


def test_approving_twice_in_bulk_says_why_the_second_time(admin_client, statement):
    admin_client.post(URL, {"action": "approve_selected", ACTION_CHECKBOX_NAME: [statement.pk]})
    response = admin_client.post(URL, {"action": "approve_selected", ACTION_CHECKBOX_NAME: [statement.pk]}, follow=True)
    assert any("The statement is already approved." in m for m in messages_of(response))
    assert PayoutStatement.objects.get().status == StatementStatus.APPROVED


def test_mark_paid_asks_for_the_reference_then_pays(admin_client, statement):
    services.statement_approve(statement=statement)
    form = admin_client.post(URL, {"action": "mark_paid_selected", ACTION_CHECKBOX_NAME: [statement.pk]})
    assert "Mark statements paid" in form.content.decode()
    missing = admin_client.post(URL, {"action": "mark_paid_selected", ACTION_CHECKBOX_NAME: [statement.pk],
                                      "apply": "yes", "reference": ""})  # fmt: skip
    assert "This field is required" in missing.content.decode()
    admin_client.post(URL, {"action": "mark_paid_selected", ACTION_CHECKBOX_NAME: [statement.pk], "apply": "yes",
                            "reference": "SEPA-42", "paid_on": "2026-12-02"})  # fmt: skip
    paid = PayoutStatement.objects.get()
    assert (paid.status, paid.payment_reference, paid.paid_on) == ("paid", "SEPA-42", dt.date(2026, 12, 2))


def test_detail_buttons_adjust_cancel_and_download(admin_client, statement):
    base = f"/admin/payouts/payoutstatement/{statement.pk}"
    admin_client.post(f"{base}/adjust/", {"amount": "-21.09", "reason": "Duplicate"})
    statement.refresh_from_db()
    assert statement.total == Decimal("300.00")
    pdf = admin_client.get(f"{base}/pdf/")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert admin_client.get(f"{base}/entries-csv/").content.decode().startswith("row,entry_id,kind")
    admin_client.post(f"{base}/cancel/", {"reason": "Wrong month"})
    statement.refresh_from_db()
    assert (statement.status, statement.cancel_reason) == ("cancelled", "Wrong month")


def test_a_manager_with_approve_only_cannot_mark_paid(client, django_user_model, statement):
    manager = staff(django_user_model, client, "view_payoutstatement", "approve_payout")
    manager.post(URL, {"action": "approve_selected", ACTION_CHECKBOX_NAME: [statement.pk]})
    assert PayoutStatement.objects.get().status == StatementStatus.APPROVED
    manager.post(URL, {"action": "mark_paid_selected", ACTION_CHECKBOX_NAME: [statement.pk], "apply": "yes",
                       "reference": "R"})  # fmt: skip
    assert PayoutStatement.objects.get().status == StatementStatus.APPROVED
    assert (
        manager.post(f"/admin/payouts/payoutstatement/{statement.pk}/mark-paid/", {"reference": "R"}).status_code == 403
    )


def test_a_read_only_user_can_look_but_not_approve(client, django_user_model, statement):
    viewer = staff(django_user_model, client, "view_payoutstatement")
    assert viewer.get(URL).status_code == 200
    viewer.post(URL, {"action": "approve_selected", ACTION_CHECKBOX_NAME: [statement.pk]})
    assert PayoutStatement.objects.get().status == StatementStatus.DRAFT
    assert viewer.post(f"/admin/payouts/payoutstatement/{statement.pk}/approve/").status_code == 403


def test_finance_with_both_permissions_approves_and_pays(client, django_user_model, statement):
    finance = staff(django_user_model, client, "view_payoutstatement", "approve_payout", "mark_paid_payout")
    finance.post(f"/admin/payouts/payoutstatement/{statement.pk}/approve/")
    finance.post(f"/admin/payouts/payoutstatement/{statement.pk}/mark-paid/", {"reference": "SEPA-1"})
    assert PayoutStatement.objects.get().status == StatementStatus.PAID


def test_every_change_of_a_statement_is_in_the_audit_log_with_its_reason(admin_client, statement):
    from auditlog.models import LogEntry

    base = f"/admin/payouts/payoutstatement/{statement.pk}"
    admin_client.post(f"{base}/cancel/", {"reason": "Threshold was wrong"})
    entries = LogEntry.objects.get_for_object(statement).order_by("pk")
    assert entries.count() >= 2  # created, then cancelled
    last = entries.last()
    assert last.changes_dict["status"] == ["draft", "cancelled"]
    assert last.changes_dict["cancel_reason"] == ["", "Threshold was wrong"]
    assert last.actor is not None and last.actor.is_superuser

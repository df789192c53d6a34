"""Role groups (core.roles): created by migrate, kept by every later one, and what each may do in the admin."""

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from affiliates.choices import AffiliateStatus
from affiliates.tests.factories import AffiliateFactory
from core import roles
from core.keys import api_key_create
from core.tests.factories import role_user

pytestmark = pytest.mark.django_db


def codenames(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_migrate_creates_the_three_roles():
    finance, managers, readonly = (codenames(n) for n in (roles.FINANCE_GROUP, roles.MANAGER_GROUP,
                                                         roles.READ_ONLY_GROUP))  # fmt: skip
    assert roles.DECIDE_ENTRIES in finance and "commissions.view_commissionentry" in finance
    assert "commissions.change_reviewpolicy" in finance and "affiliates.change_affiliate" not in finance
    assert roles.DECIDE_ENTRIES not in managers and "affiliates.change_affiliate" in managers
    assert "auditlog.view_logentry" in managers and "core.change_apikey" not in managers
    assert readonly and all(name.split(".")[1].startswith("view_") for name in readonly)
    assert {"auditlog.view_logentry", "affiliates.view_affiliate", "commissions.view_commissionentry"} <= readonly


def test_sync_is_idempotent_and_keeps_a_grant_made_by_hand():
    managers = Group.objects.get(name=roles.MANAGER_GROUP)
    decide = Permission.objects.get(codename="decide_commissionentry")
    managers.permissions.add(decide)
    readonly = Group.objects.get(name=roles.READ_ONLY_GROUP)
    readonly.permissions.add(Permission.objects.get(codename="change_affiliate"))
    before = {name: codenames(name) for name in (roles.FINANCE_GROUP, roles.MANAGER_GROUP)}
    roles.roles_sync()
    roles.roles_sync()
    assert roles.DECIDE_ENTRIES in codenames(roles.MANAGER_GROUP)  # granted on purpose: kept
    assert "affiliates.change_affiliate" not in codenames(roles.READ_ONLY_GROUP)  # never for read-only
    assert {name: codenames(name) for name in before} == before
    assert Group.objects.filter(name__in=[roles.FINANCE_GROUP, roles.MANAGER_GROUP, roles.READ_ONLY_GROUP]).count() == 3


def test_payout_permissions_go_to_finance_and_mark_paid_never_to_managers():
    managers = Group.objects.get(name=roles.MANAGER_GROUP)
    managers.permissions.add(Permission.objects.get(content_type__app_label="payouts", codename="mark_paid_payout"))
    roles.roles_sync()  # a slip by hand is undone
    assert {roles.APPROVE_PAYOUT, roles.MARK_PAID_PAYOUT} <= codenames(roles.FINANCE_GROUP)
    assert roles.APPROVE_PAYOUT in codenames(roles.MANAGER_GROUP)
    assert roles.MARK_PAID_PAYOUT not in codenames(roles.MANAGER_GROUP)
    assert "payouts.view_payoutstatement" in codenames(roles.READ_ONLY_GROUP)
    assert roles.APPROVE_PAYOUT not in codenames(roles.READ_ONLY_GROUP)


def test_manager_approves_a_statement_but_cannot_mark_it_paid_and_finance_can(client):
    from decimal import Decimal

    from affiliates.tests.factories import BrandFactory
    from commissions.payouts import services
    from commissions.payouts.choices import StatementStatus
    from commissions.payouts.models import PayoutStatement
    from commissions.payouts.tests.factories import EntryFactory

    affiliate = AffiliateFactory(name="Acme Media", payment_method="bank_transfer")
    EntryFactory(affiliate=affiliate, brand=BrandFactory(), amount=Decimal("321.09"))
    [statement] = services.statement_generate(affiliate=affiliate, period="2026-10").statements
    base = f"/admin/payouts/payoutstatement/{statement.pk}"
    client.force_login(role_user("mona", roles.MANAGER_GROUP))
    client.post(f"{base}/approve/")
    assert PayoutStatement.objects.get().status == StatementStatus.APPROVED
    client.post(f"{base}/mark-paid/", {"reference": "SEPA-1"})
    assert PayoutStatement.objects.get().status == StatementStatus.APPROVED

    client.force_login(role_user("fiona", roles.FINANCE_GROUP))
    client.post(f"{base}/mark-paid/", {"reference": "SEPA-1"})
    assert PayoutStatement.objects.get().status == StatementStatus.PAID


def test_every_admin_action_names_the_permission_it_needs():
    """An action without `permissions` is open to anyone who can see the list, read-only users included."""
    missing = []
    for model, model_admin in admin.site._registry.items():
        if "site-packages" in model._meta.app_config.path:
            continue  # a library's own admin (axes, auditlog, django-otp): not ours to change
        names = list(model_admin.actions or [])
        for attr in ("actions_list", "actions_row", "actions_detail", "actions_submit_line"):
            names += [n for n in getattr(model_admin, attr, ()) or () if isinstance(n, str)]
        for name in names:
            func = getattr(type(model_admin), name, None) if isinstance(name, str) else name
            if func is not None and not getattr(func, "allowed_permissions", None):
                missing.append(f"{model._meta.label}.{getattr(func, '__name__', name)}")
    assert missing == []


def test_read_only_user_cannot_run_actions_or_edit(client):
    client.force_login(role_user("rita", roles.READ_ONLY_GROUP))
    pending = AffiliateFactory(status=AffiliateStatus.PENDING)
    key, _ = api_key_create(name="back office", scope="management")
    url = reverse("admin:affiliates_affiliate_changelist")
    assert client.get(url).status_code == 200
    client.post(url, {"action": "approve_selected", ACTION_CHECKBOX_NAME: [pending.pk]})
    client.post(reverse("admin:core_apikey_changelist"), {"action": "revoke", ACTION_CHECKBOX_NAME: [key.pk]})
    assert client.get(reverse("admin:core_apikey_revoke_detail", args=[key.pk])).status_code == 403
    assert client.get(reverse("admin:integrations_fxrate_import")).status_code == 403
    pending.refresh_from_db()
    key.refresh_from_db()
    assert pending.status == AffiliateStatus.PENDING and key.revoked_at is None
    audit = reverse("admin:auditlog_logentry_changelist")
    assert client.get(audit).status_code == 200


def test_demo_logins_carry_their_roles(programme_demo):
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    assert users.get(username="finance").has_perm(roles.DECIDE_ENTRIES)
    assert users.get(username="finance").check_password("finance")
    readonly = users.get(username="readonly")
    assert readonly.check_password("readonly") and readonly.is_staff
    assert readonly.has_perm("commissions.view_commissionentry") and not readonly.has_perm(roles.DECIDE_ENTRIES)
    manager = users.get(username="manager")
    assert manager.has_perm("affiliates.change_affiliate") and not manager.has_perm(roles.DECIDE_ENTRIES)


@pytest.fixture
def programme_demo():
    from affiliates import demo

    demo.seed()

"""The manager's admin: pages render, status actions go through the workflow, deal edits make versions,
assignment rules come back as form errors."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.forms import BooleanField
from django.urls import reverse

from affiliates.choices import AffiliateStatus, DealKind
from affiliates.models import Affiliate, AffiliateStatusChange, Brand, Deal, DealAssignment
from affiliates.tests.factories import AffiliateFactory, BrandFactory, DealAssignmentFactory, DealFactory
from integrations.webhooks.models import OutboxEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff(admin_client):
    return admin_client


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def form_data(response) -> dict:
    """POST data equal to what the rendered change form would submit unchanged (main form and inlines)."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, BooleanField):
            if value:
                data[name] = "on"
        elif value not in (None, ""):
            data[name] = str(value)
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management[name].value()
    return data


@pytest.fixture
def programme():
    brand = BrandFactory(slug="lucky-casino", currency="EUR")
    parent = AffiliateFactory(name="Parent Media")
    affiliate = AffiliateFactory(name="Child Media", parent=parent)
    deal = DealFactory(brand=brand, name="Casino CPA")
    assignment = DealAssignmentFactory(deal=deal, affiliate=affiliate)
    return {"brand": brand, "affiliate": affiliate, "deal": deal, "assignment": assignment}


@pytest.mark.parametrize("model", ["brand", "affiliate", "deal", "dealassignment", "dealversion"])
def test_changelist_and_change_pages_render(staff, programme, model):
    objects = {
        "brand": programme["brand"],
        "affiliate": programme["affiliate"],
        "deal": programme["deal"],
        "dealassignment": programme["assignment"],
        "dealversion": programme["deal"].current,
    }
    assert staff.get(reverse(f"admin:affiliates_{model}_changelist")).status_code == 200
    assert staff.get(reverse(f"admin:affiliates_{model}_change", args=[objects[model].pk])).status_code == 200


@pytest.mark.parametrize("model", ["brand", "affiliate", "deal", "dealassignment"])
def test_add_pages_render(staff, model):
    assert staff.get(reverse(f"admin:affiliates_{model}_add")).status_code == 200


def test_affiliate_change_page_shows_history_and_sub_affiliates(staff, programme):
    parent = programme["affiliate"].parent
    response = staff.get(reverse("admin:affiliates_affiliate_change", args=[parent.pk]))
    html = response.content.decode()
    assert "Child Media" in html
    assert "Status history" in html


def test_changelist_filters_by_status_and_searches(staff):
    AffiliateFactory(name="Alpha Pending", status=AffiliateStatus.PENDING)
    AffiliateFactory(name="Beta Active", status=AffiliateStatus.ACTIVE)
    url = reverse("admin:affiliates_affiliate_changelist")
    html = staff.get(url, {"status": "pending"}).content.decode()
    assert "Alpha Pending" in html and "Beta Active" not in html
    html = staff.get(url, {"q": "beta"}).content.decode()
    assert "Beta Active" in html and "Alpha Pending" not in html


def test_adding_an_affiliate_records_its_first_status(staff, programme):
    response = staff.post(
        reverse("admin:affiliates_affiliate_add"),
        {
            "name": "New Partner",
            "email": "new@example.com",
            "country": "DE",
            "parent": programme["affiliate"].pk,
            "payment_method": "bank_transfer",
            "payment_details": '{"iban": "DE89370400440532013000"}',
            "payout_currency": "EUR",
            "payout_threshold": "50.00",
            "payout_frequency": "monthly",
            "payout_scope": "per_brand",
            "vat_rate": "0",
            **_empty_inlines(),
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    created = Affiliate.objects.get(email="new@example.com")
    assert created.status == AffiliateStatus.PENDING
    assert created.parent == programme["affiliate"]
    assert created.payment_details == {"iban": "DE89370400440532013000"}
    assert created.status_changes.get().reason == "created"


def _empty_inlines() -> dict:
    data = {}
    for prefix in ("status_changes", "sub_affiliates", "deal_assignments"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return data


def test_editing_payment_details_keeps_status(staff, programme):
    affiliate = programme["affiliate"]
    url = reverse("admin:affiliates_affiliate_change", args=[affiliate.pk])
    data = form_data(staff.get(url))
    data["payment_details"] = '{"wallet": "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"}'
    data["payment_method"] = "crypto"
    response = staff.post(url, data)
    assert response.status_code == 302
    affiliate.refresh_from_db()
    assert affiliate.payment_details == {"wallet": "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"}
    assert affiliate.status == AffiliateStatus.ACTIVE
    announced = OutboxEvent.objects.get(type="affiliate.payment_details_changed", affiliate_id=affiliate.pk)
    assert announced.data["payment_method"] == "crypto"


# --- Status actions -----------------------------------------------------------------------------


def test_bulk_approve_activates_pending_affiliates_and_records_who(staff, admin_user):
    pending = AffiliateFactory.create_batch(2, status=AffiliateStatus.PENDING)
    response = staff.post(
        reverse("admin:affiliates_affiliate_changelist"),
        {"action": "approve_selected", ACTION_CHECKBOX_NAME: [a.pk for a in pending]},
    )
    assert response.status_code == 302
    for affiliate in pending:
        affiliate.refresh_from_db()
        assert affiliate.status == AffiliateStatus.ACTIVE
        assert affiliate.approved_at is not None
        assert affiliate.status_changes.get().changed_by == admin_user
    assert "2 affiliate(s) now active." in _messages(response)


def test_bulk_suspend_asks_for_a_reason_first(staff):
    affiliate = AffiliateFactory(status=AffiliateStatus.ACTIVE)
    response = staff.post(
        reverse("admin:affiliates_affiliate_changelist"),
        {"action": "suspend_selected", ACTION_CHECKBOX_NAME: [affiliate.pk]},
    )
    assert response.status_code == 200
    assert 'name="reason"' in response.content.decode()
    affiliate.refresh_from_db()
    assert affiliate.status == AffiliateStatus.ACTIVE


def test_bulk_suspend_with_an_empty_reason_changes_nothing(staff):
    affiliate = AffiliateFactory(status=AffiliateStatus.ACTIVE)
    response = staff.post(
        reverse("admin:affiliates_affiliate_changelist"),
        {"action": "suspend_selected", ACTION_CHECKBOX_NAME: [affiliate.pk], "apply": "yes", "reason": "  "},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    affiliate.refresh_from_db()
    assert affiliate.status == AffiliateStatus.ACTIVE
    assert not AffiliateStatusChange.objects.filter(affiliate=affiliate).exists()


def test_bulk_suspend_with_a_reason_suspends_and_keeps_the_reason(staff):
    affiliate = AffiliateFactory(status=AffiliateStatus.ACTIVE)
    response = staff.post(
        reverse("admin:affiliates_affiliate_changelist"),
        {
            "action": "suspend_selected",
            ACTION_CHECKBOX_NAME: [affiliate.pk],
            "apply": "yes",
            "reason": "Brand bidding on our trademark",
        },
    )
    assert response.status_code == 302
    affiliate.refresh_from_db()
    assert affiliate.status == AffiliateStatus.SUSPENDED
    assert affiliate.status_reason == "Brand bidding on our trademark"
    change = affiliate.status_changes.get()
    assert (change.from_status, change.to_status) == ("active", "suspended")


def test_a_transition_the_workflow_forbids_is_a_message_not_an_error_page(staff):
    pending = AffiliateFactory(name="Pending One", status=AffiliateStatus.PENDING)
    active = AffiliateFactory(name="Active One", status=AffiliateStatus.ACTIVE)
    response = staff.post(
        reverse("admin:affiliates_affiliate_changelist"),
        {"action": "suspend_selected", ACTION_CHECKBOX_NAME: [pending.pk, active.pk], "apply": "yes", "reason": "x"},
    )
    assert response.status_code == 302
    texts = _messages(response)
    assert any("Pending One" in t and "pending cannot become suspended" in t for t in texts)
    assert "1 affiliate(s) now suspended." in texts
    pending.refresh_from_db()
    assert pending.status == AffiliateStatus.PENDING


def test_reject_from_the_affiliate_page_needs_a_reason(staff):
    affiliate = AffiliateFactory(status=AffiliateStatus.PENDING)
    url = reverse("admin:affiliates_affiliate_reject_detail", args=[affiliate.pk])
    assert 'name="reason"' in staff.get(url).content.decode()
    response = staff.post(url, {"reason": ""})
    assert response.status_code == 200
    affiliate.refresh_from_db()
    assert affiliate.status == AffiliateStatus.PENDING

    response = staff.post(url, {"reason": "Fake traffic in the sample"})
    assert response.status_code == 302
    affiliate.refresh_from_db()
    assert (affiliate.status, affiliate.status_reason) == (AffiliateStatus.REJECTED, "Fake traffic in the sample")


def test_approve_from_the_affiliate_page_confirms_on_get_and_approves_on_post(staff):
    affiliate = AffiliateFactory(status=AffiliateStatus.PENDING)
    url = reverse("admin:affiliates_affiliate_approve_detail", args=[affiliate.pk])
    assert staff.get(url).status_code == 200
    affiliate.refresh_from_db()
    assert affiliate.status == AffiliateStatus.PENDING
    assert staff.post(url).status_code == 302
    affiliate.refresh_from_db()
    assert affiliate.status == AffiliateStatus.ACTIVE


# --- Deals --------------------------------------------------------------------------------------


def _new_deal_data(brand: Brand, **terms) -> dict:
    return {"brand": brand.pk, "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0", **terms}


def test_adding_a_hybrid_deal_stores_every_term_in_version_one(staff):
    brand = BrandFactory(slug="lucky-casino", currency="EUR")
    response = staff.post(
        reverse("admin:affiliates_deal_add"),
        _new_deal_data(
            brand,
            name="Casino Hybrid DE",
            kind="hybrid",
            hold_days="30",
            countries="de, at",
            cpa_amount="200.00",
            country_amounts='{"DE": "250.00"}',
            qual_min_ftd="20.00",
            qual_min_deposits="50.00",
            qual_window_days="30",
            cpa_monthly_cap="300",
            revshare_percent="25",
            revenue_basis="ngr",
            negative_carryover="on",
            tiers='[{"min_ftds": 10, "cpa_amount": "250.00"}, {"min_revenue": "10000", "revshare_percent": "35"}]',
            tier_application="from_reached",
            lot_rounding="down",
            subaffiliate_percent="5",
            effective_from="2026-01-01",
            change_note="launch",
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    deal = Deal.objects.get(name="Casino Hybrid DE")
    version = deal.current
    assert (deal.current_version, version.kind, version.currency) == (1, DealKind.HYBRID, "EUR")
    assert version.countries == ["AT", "DE"]
    assert version.cpa_amount == Decimal("200.00")
    assert version.country_amounts == {"DE": "250.00"}
    assert version.qualification["min_ftd"] == "20.00"
    assert version.qualification["window_days"] == 30
    assert version.cpa_monthly_cap == 300
    assert version.revshare_percent == Decimal("25")
    assert version.negative_carryover is True
    assert version.tiers[1] == {"min_revenue": "10000.00", "revshare_percent": "35.0000"}
    assert version.subaffiliate_percent == Decimal("5")
    assert version.effective_from == dt.date(2026, 1, 1)
    assert version.prop_include_resets is False


@pytest.mark.parametrize(
    ("terms", "field", "message"),
    [
        ({"kind": "cpa"}, "cpa_amount", "A CPA deal needs cpa_amount"),
        ({"kind": "revshare", "revshare_percent": "130"}, "revshare_percent", "100"),
        ({"kind": "cpa", "cpa_amount": "10", "countries": "DE, XX"}, "countries", "'XX' is not an ISO 3166-1"),
        ({"kind": "cpa", "cpa_amount": "10", "tiers": '[{"cpa_amount": "5"}]'}, "tiers", "exactly one threshold"),
        ({"kind": "cpa", "cpa_amount": "10", "tiers": "[{oops"}, "tiers", "Not valid JSON"),
        ({"kind": "cpa", "cpa_amount": "10", "qual_window_days": "0"}, "qual_window_days", "greater than or equal"),
        ({"kind": "rebate", "rebate_groups": '{"name": "x"}'}, "rebate_groups", "Must be a JSON list"),
        ({"kind": "cpa", "cpa_amount": "-1"}, "cpa_amount", "greater than or equal to 0"),
    ],
)
def test_bad_terms_come_back_as_field_errors(staff, terms, field, message):
    brand = BrandFactory()
    data = _new_deal_data(brand, name="Bad", revenue_basis="ngr", tier_application="from_reached", lot_rounding="down")
    response = staff.post(reverse("admin:affiliates_deal_add"), {**data, **terms})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors.get(field, [])), errors
    assert not Deal.objects.filter(name="Bad").exists()


def test_a_duplicate_deal_name_is_a_field_error(staff):
    deal = DealFactory(name="Taken")
    data = _new_deal_data(
        deal.brand, name="Taken", kind="cpl", cpl_amount="5", revenue_basis="ngr",
        tier_application="from_reached", lot_rounding="down",
    )  # fmt: skip
    response = staff.post(reverse("admin:affiliates_deal_add"), data)
    assert response.status_code == 200
    assert "already has a deal with this name" in response.context["adminform"].form.errors["name"][0]


def test_editing_a_deal_makes_version_two_and_keeps_version_one(staff):
    deal = DealFactory(name="Casino CPA", effective_from=dt.date(2026, 1, 1))
    url = reverse("admin:affiliates_deal_change", args=[deal.pk])
    data = form_data(staff.get(url))
    assert data["cpa_amount"] == "200.00" and data["qual_min_ftd"] == "20.00"
    data.update(cpa_amount="250.00", effective_from="2026-03-01", change_note="Q2 raise")

    response = staff.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    deal.refresh_from_db()
    assert deal.current_version == 2
    v1, v2 = deal.versions.get(version=1), deal.versions.get(version=2)
    assert (v1.cpa_amount, v1.effective_from) == (Decimal("200.00"), dt.date(2026, 1, 1))
    assert (v2.cpa_amount, v2.effective_from, v2.change_note) == (Decimal("250.00"), dt.date(2026, 3, 1), "Q2 raise")
    assert {k: Decimal(str(v)) for k, v in v2.qualification.items()} == {
        k: Decimal(str(v)) for k, v in v1.qualification.items()
    }
    page = staff.get(url).content.decode()
    assert "cpa_amount: 200.00 → 250.00" in page
    assert "Q2 raise" in page


def test_saving_an_unchanged_deal_makes_no_version(staff):
    deal = DealFactory()
    url = reverse("admin:affiliates_deal_change", args=[deal.pk])
    response = staff.post(url, form_data(staff.get(url)))
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.current_version == 1
    assert "No term changed: no new version was made." in _messages(response)


def test_a_new_version_cannot_start_before_the_current_one(staff):
    deal = DealFactory(effective_from=dt.date(2026, 1, 1))
    url = reverse("admin:affiliates_deal_change", args=[deal.pk])
    data = {**form_data(staff.get(url)), "cpa_amount": "300.00", "effective_from": "2025-12-31"}
    response = staff.post(url, data)
    assert response.status_code == 200
    assert "Must not be before" in response.context["adminform"].form.errors["effective_from"][0]
    assert deal.versions.count() == 1


# --- Assignments --------------------------------------------------------------------------------


def _assignment_data(deal, affiliate=None, **extra) -> dict:
    data = {"deal": deal.pk, "valid_from": "2026-01-01", "valid_to": "", "overrides": "", "note": ""}
    if affiliate is not None:
        data["affiliate"] = affiliate.pk
    return {**data, **extra}


def test_assignment_with_overrides_is_saved_through_the_service(staff, admin_user):
    deal = DealFactory()
    affiliate = AffiliateFactory()
    response = staff.post(
        reverse("admin:affiliates_dealassignment_add"),
        _assignment_data(deal, affiliate, overrides='{"cpa_amount": "250.00"}', valid_to="2026-12-31"),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assignment = DealAssignment.objects.get(affiliate=affiliate)
    assert assignment.brand == deal.brand
    assert assignment.overrides == {"cpa_amount": "250.00"}
    assert assignment.created_by == admin_user


def test_assignment_without_affiliate_is_the_brand_default(staff):
    deal = DealFactory()
    response = staff.post(reverse("admin:affiliates_dealassignment_add"), _assignment_data(deal))
    assert response.status_code == 302
    assert DealAssignment.objects.get(deal=deal).affiliate is None


def test_overlapping_assignment_is_a_form_error(staff):
    existing = DealAssignmentFactory(valid_from=dt.date(2026, 1, 1), valid_to=dt.date(2026, 6, 30))
    response = staff.post(
        reverse("admin:affiliates_dealassignment_add"),
        _assignment_data(existing.deal, existing.affiliate, valid_from="2026-06-01"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert re.search(rf"Overlaps assignment #{existing.pk}", errors["valid_from"][0])
    assert DealAssignment.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ('{"kind": "revshare"}', "Not overridable: kind"),
        ('{"cpa_amount": "-5"}', "greater than or equal to 0"),
        ('["cpa_amount"]', "Must be a JSON object"),
    ],
)
def test_bad_overrides_are_form_errors(staff, overrides, message):
    deal = DealFactory()
    response = staff.post(
        reverse("admin:affiliates_dealassignment_add"),
        _assignment_data(deal, AffiliateFactory(), overrides=overrides),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in str(errors), errors
    assert not DealAssignment.objects.exists()


def test_deleting_an_assignment_from_the_admin_removes_it(staff):
    assignment = DealAssignmentFactory()
    url = reverse("admin:affiliates_dealassignment_delete", args=[assignment.pk])
    assert staff.post(url, {"post": "yes"}).status_code == 302
    assert not DealAssignment.objects.exists()


def test_the_affiliate_page_offers_only_the_changes_the_workflow_allows(staff):
    active = AffiliateFactory(status=AffiliateStatus.ACTIVE)
    page = staff.get(reverse("admin:affiliates_affiliate_change", args=[active.pk])).content.decode()
    assert reverse("admin:affiliates_affiliate_suspend_detail", args=[active.pk]) in page
    assert reverse("admin:affiliates_affiliate_approve_detail", args=[active.pk]) not in page
    assert reverse("admin:affiliates_affiliate_reject_detail", args=[active.pk]) not in page
    assert staff.post(reverse("admin:affiliates_affiliate_reject_detail", args=[active.pk])).status_code == 403


def test_closing_deals_from_the_list_keeps_their_assignments(staff):
    # given a deal with an assignment
    assignment = DealAssignmentFactory()
    deal = assignment.deal
    # when the manager closes it from the deal list
    response = staff.post(
        reverse("admin:affiliates_deal_changelist"), {"action": "close_selected", ACTION_CHECKBOX_NAME: [deal.pk]}
    )
    # then the deal is closed, announced once, and the assignment stays in force
    deal.refresh_from_db()
    assert response.status_code == 302
    assert deal.is_active is False
    assert DealAssignment.objects.filter(pk=assignment.pk).exists()
    assert OutboxEvent.objects.filter(type="deal.changed", data__is_active=False).count() == 1
    assert "1 deal(s) closed to new assignments; existing ones stay in force." in _messages(response)
    # and opening it again is the same in reverse
    changelist = reverse("admin:affiliates_deal_changelist")
    staff.post(changelist, {"action": "open_selected", ACTION_CHECKBOX_NAME: [deal.pk]})
    deal.refresh_from_db()
    assert deal.is_active is True

"""Re-running attribution once the cause of a miss is fixed: dry run first, then applied (audited, commissions
booked as the deal says), through the management API and the admin."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from affiliates.tests.factories import AffiliateFactory, BrandFactory, DealAssignmentFactory, DealFactory
from commissions.choices import EntryStatus
from commissions.models import CommissionEntry
from tracking.models import AttributionMiss, ConversionEvent, Customer, CustomerReassignment
from tracking.tests.factories import PromoCodeFactory, TrackingLinkFactory

from .test_attribution_outcomes import NOW, send

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_ingestion")]

CPA = {
    "kind": "cpa", "currency": "EUR", "cpa_amount": "200.00", "hold_days": 30,
    "qualification": {"min_ftd": "20.00", "min_deposits": "50.00", "window_days": 30},
}  # fmt: skip


@pytest.fixture
def brand():
    return BrandFactory(slug="lucky", attribution_window_days=30)


@pytest.fixture
def source(brand):
    from integrations.services import source_create

    source, raw = source_create(slug="lucky-crm", name="Lucky CRM", brand=brand)
    source.raw_key = raw
    return source


@pytest.fixture
def partner(brand):
    affiliate = AffiliateFactory(name="Casino Kings")
    DealAssignmentFactory(deal=DealFactory(brand=brand, terms=CPA), affiliate=affiliate)
    return affiliate


@pytest.fixture
def untagged(source, brand):
    """A customer who registered with a promo code the brand did not have yet, then deposited 60.00 EUR."""
    send("postback", source, {"promo_code": "WELCOME"})
    send("api", source, {}, occurred_at=NOW + dt.timedelta(hours=1), event_id="ftd-1", type="ftd",
         amount="60.00", currency="EUR")  # fmt: skip
    customer = Customer.objects.get(external_id="P-1")
    assert customer.affiliate_id is None
    return customer


def rerun(mgmt, **body):
    return mgmt.post("/api/v1/customers/reattribute", body, format="json")


def test_dry_run_says_who_would_move_to_whom_and_changes_nothing(mgmt, untagged, partner, brand):
    # Given the manager fixed the cause: the promo code now exists for the partner
    PromoCodeFactory(brand=brand, affiliate=partner, code="WELCOME")
    # When they ask for a dry run
    response = rerun(mgmt, customers=[untagged.pk])
    # Then it answers the move and writes nothing
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dry_run"] is True
    assert body["summary"] == {"attribute": 1, "unchanged": 0, "skipped": 0, "refused": 0}
    [result] = body["results"]
    assert (result["customer"], result["action"], result["from_affiliate"], result["to_affiliate"]) == (
        untagged.pk, "attribute", None, partner.pk,
    )  # fmt: skip
    assert (result["method"], result["value"]) == ("promo_code", "WELCOME")
    assert result["detail"].startswith("Would be attributed to Casino Kings")
    untagged.refresh_from_db()
    assert untagged.affiliate_id is None
    assert not CustomerReassignment.objects.exists()
    assert AttributionMiss.objects.get().reason == "promo_unknown"


def test_applied_rerun_attributes_audits_and_books_the_deal(
    mgmt, untagged, partner, brand, django_capture_on_commit_callbacks
):
    PromoCodeFactory(brand=brand, affiliate=partner, code="WELCOME")

    with django_capture_on_commit_callbacks(execute=True):
        response = rerun(mgmt, customers=[untagged.pk], dry_run=False, reason="Promo code WELCOME was missing")

    assert response.status_code == 200, response.content
    assert response.json()["summary"]["attribute"] == 1
    assert response.json()["results"][0]["detail"].startswith("Attributed to Casino Kings")
    untagged.refresh_from_db()
    assert (untagged.affiliate_id, untagged.attribution_method, untagged.promo_code.code) == (
        partner.pk, "promo_code", "WELCOME",
    )  # fmt: skip
    assert untagged.attributed_at == NOW
    # audited: from nobody to the partner, why, by whom, and what the misses said before
    audit = CustomerReassignment.objects.get(customer=untagged)
    assert (audit.from_affiliate_id, audit.to_affiliate_id) == (None, partner.pk)
    assert audit.reason == "Attribution re-run: Promo code WELCOME was missing"
    assert audit.previous["misses"] == [{"hint": "promo_code", "value": "WELCOME", "reason": "promo_unknown"}]
    assert audit.previous["actor"].startswith("API key ")
    # the events are the partner's now, and the deal's CPA is booked for them
    assert set(ConversionEvent.objects.filter(customer=untagged).values_list("affiliate_id", flat=True)) == {partner.pk}
    [entry] = CommissionEntry.objects.filter(customer=untagged)
    assert (entry.kind, entry.affiliate_id, entry.amount, entry.currency) == (
        "cpa",
        partner.pk,
        Decimal("200.00"),
        "EUR",
    )
    # and the miss is gone: nothing fails any more
    assert not AttributionMiss.objects.filter(customer=untagged).exists()


def test_rerun_that_still_cannot_attribute_changes_nothing_but_refreshes_the_reason(mgmt, untagged, brand):
    # The promo code now exists, but is switched off: the reason moves from unknown to deactivated.
    PromoCodeFactory(brand=brand, code="WELCOME", is_active=False)

    response = rerun(mgmt, customers=[untagged.pk], dry_run=False, reason="checked the promo code")

    assert response.json()["summary"] == {"attribute": 0, "unchanged": 1, "skipped": 0, "refused": 0}
    assert response.json()["results"][0]["outcomes"][0]["reason"] == "promo_expired"
    assert AttributionMiss.objects.get(customer=untagged).reason == "promo_expired"
    untagged.refresh_from_db()
    assert untagged.affiliate_id is None
    assert not CustomerReassignment.objects.exists()


def test_attributed_customers_are_skipped_and_paid_ones_refused(mgmt, untagged, partner, brand, source):
    link = TrackingLinkFactory(brand=brand)
    send("api", source, {"tracking_token": link.token}, customer="P-2")
    attributed = Customer.objects.get(external_id="P-2")
    CommissionEntry.objects.create(
        slot=f"adjustment:{untagged.pk}", kind="adjustment", status=EntryStatus.PAID, affiliate=partner, brand=brand,
        customer=untagged, amount=Decimal("10.00"), currency="EUR", period="2026-11", occurred_at=NOW,
        explanation="Goodwill",
    )  # fmt: skip
    PromoCodeFactory(brand=brand, affiliate=partner, code="WELCOME")

    response = rerun(mgmt, customers=[untagged.pk, attributed.pk], dry_run=False, reason="fix")

    by_customer = {r["customer"]: r for r in response.json()["results"]}
    assert by_customer[attributed.pk]["action"] == "skipped"
    assert by_customer[untagged.pk]["action"] == "refused"
    assert "paid commission entries" in by_customer[untagged.pk]["detail"]
    untagged.refresh_from_db()
    attributed.refresh_from_db()
    assert untagged.affiliate_id is None and attributed.affiliate_id == link.affiliate_id
    assert CommissionEntry.objects.get(customer=untagged).status == EntryStatus.PAID  # never touched


def test_bulk_selection_by_reason_and_brand(mgmt, source, brand, partner):
    send("api", source, {"promo_code": "WELCOME"}, customer="A")
    send("api", source, {"promo_code": "WELCOME"}, customer="B")
    send("api", source, {"click_id": "nope"}, customer="C")
    PromoCodeFactory(brand=brand, affiliate=partner, code="WELCOME")

    response = rerun(mgmt, brand="lucky", miss_reason="promo_unknown")

    assert response.status_code == 200
    assert sorted((r["external_id"], r["action"]) for r in response.json()["results"]) == [
        ("A", "attribute"), ("B", "attribute"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "customers"),
        ({"customers": [1], "miss_reason": "promo_unknown"}, "customers"),
        ({"customers": [1], "dry_run": False}, "reason"),
        ({"miss_reason": "bogus"}, "miss_reason"),
        ({"customers": list(range(1, 1002))}, "customers"),
    ],
)
def test_bad_rerun_requests_answer_problems(mgmt, body, field):
    response = rerun(mgmt, **body)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert field in {e["field"] for e in response.json()["errors"]}


def test_unknown_customer_ids_are_refused_and_nothing_changes(mgmt, untagged):
    response = rerun(mgmt, customers=[untagged.pk, 987654], dry_run=False, reason="x")

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_customers"
    assert not CustomerReassignment.objects.exists()


def test_partner_keys_cannot_rerun(api, untagged, partner):
    response = api("partner", affiliate=partner).post("/api/v1/customers/reattribute", {"customers": [untagged.pk]})

    assert response.status_code == 403
    untagged.refresh_from_db()
    assert untagged.affiliate_id is None


# --- Admin -----------------------------------------------------------------------------------------


def test_admin_shows_each_hint_outcome_on_the_customer_page(admin_client, untagged):
    page = admin_client.get(f"/admin/tracking/customer/{untagged.pk}/change/")

    assert page.status_code == 200
    assert b"promo_unknown" in page.content
    assert b"Promo code &#x27;WELCOME&#x27; is not a promo code of lucky." in page.content


def test_admin_filters_unattributed_with_hints_by_reason(admin_client, source, brand):
    send("api", source, {"promo_code": "NOPE"}, customer="A-PROMO")
    send("api", source, {"click_id": "nope"}, customer="B-CLICK")

    page = admin_client.get("/admin/tracking/customer/?miss_reason=click_unknown")

    assert page.status_code == 200
    assert b"B-CLICK" in page.content and b"A-PROMO" not in page.content
    assert b"A-PROMO" in admin_client.get("/admin/tracking/customer/?miss_reason=any").content


def test_admin_bulk_rerun_shows_the_dry_run_then_applies_with_a_reason(
    admin_client, admin_user, untagged, partner, brand, django_capture_on_commit_callbacks
):
    PromoCodeFactory(brand=brand, affiliate=partner, code="WELCOME")
    url = "/admin/tracking/customer/"

    page = admin_client.post(url, {"action": "rerun_attribution", ACTION_CHECKBOX_NAME: [untagged.pk]})

    assert page.status_code == 200
    assert b"Re-run attribution: dry run" in page.content and b"Casino Kings" in page.content
    untagged.refresh_from_db()
    assert untagged.affiliate_id is None
    # without a reason nothing is applied
    page = admin_client.post(
        url, {"action": "rerun_attribution", ACTION_CHECKBOX_NAME: [untagged.pk], "apply": "yes", "reason": " "}
    )
    assert b"This field is required" in page.content or b"A reason is required" in page.content
    untagged.refresh_from_db()
    assert untagged.affiliate_id is None
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            url, {"action": "rerun_attribution", ACTION_CHECKBOX_NAME: [untagged.pk], "apply": "yes", "reason": "fixed"}
        )
    untagged.refresh_from_db()
    assert untagged.affiliate_id == partner.pk
    audit = CustomerReassignment.objects.get(customer=untagged)
    assert audit.changed_by == admin_user
    assert CommissionEntry.objects.get(customer=untagged).amount == Decimal("200.00")


def test_admin_single_rerun_from_the_customer_page(admin_client, untagged, partner, brand):
    PromoCodeFactory(brand=brand, affiliate=partner, code="WELCOME")
    url = f"/admin/tracking/customer/{untagged.pk}/rerun-attribution/"

    assert b"Would be attributed to Casino Kings" in admin_client.get(url).content
    response = admin_client.post(url, {"apply": "yes", "reason": "promo created"})

    assert response.status_code == 302
    untagged.refresh_from_db()
    assert untagged.affiliate_id == partner.pk


def test_a_customer_resolved_without_a_stored_event_is_re_run_from_its_misses(brand, partner):
    from tracking.attribution import customer_resolve
    from tracking.reattribution import customers_reattribute, customers_reattribute_plan

    customer = customer_resolve(brand=brand, external_id="IMPORTED", hints={"promo_code": "LATER"}, occurred_at=NOW)
    PromoCodeFactory(brand=brand, affiliate=partner, code="LATER")

    [plan] = customers_reattribute_plan(customers=[customer.pk])
    assert (plan.action, plan.to_affiliate) == ("attribute", partner)
    customers_reattribute(customers=[customer], reason="imported customer, promo code created since")

    customer.refresh_from_db()
    assert (customer.affiliate_id, customer.attribution_method, customer.attributed_at) == (
        partner.pk,
        "promo_code",
        NOW,
    )
    assert CustomerReassignment.objects.get(customer=customer).previous["event"] is None


def test_a_re_run_from_misses_alone_keeps_the_sub_ids_miss(brand):
    from tracking.attribution import customer_resolve
    from tracking.reattribution import customers_reattribute

    customer = customer_resolve(brand=brand, external_id="SUBS", hints={"sub1": "fb"}, occurred_at=NOW)
    customer_resolve(brand=brand, external_id="SUBS", hints={"promo_code": "NOPE"}, occurred_at=NOW)

    [plan] = customers_reattribute(customers=[customer], reason="checked")

    assert plan.action == "unchanged"
    assert sorted(AttributionMiss.objects.filter(customer=customer).values_list("reason", flat=True)) == [
        "promo_unknown", "sub_ids_only",
    ]  # fmt: skip


def test_admin_lists_misses_across_customers_by_reason(admin_client, source):
    send("api", source, {"promo_code": "NOPE"}, customer="M-1")
    send("api", source, {"click_id": "nope"}, customer="M-2")

    page = admin_client.get("/admin/tracking/attributionmiss/?reason=promo_unknown")

    assert page.status_code == 200
    assert b"NOPE" in page.content and b"M-2" not in page.content
    miss = AttributionMiss.objects.get(reason="click_unknown")
    assert admin_client.get(f"/admin/tracking/attributionmiss/{miss.pk}/change/").status_code == 200


def test_applied_rerun_moves_the_customer_in_the_reports_as_a_rebuild_would(
    mgmt, untagged, partner, brand, django_capture_on_commit_callbacks
):
    from reports import upkeep
    from reports.models import DailyRollup

    def partner_rows():
        fields = [*upkeep.ROLLUP_COLUMNS, *upkeep.MEASURES]
        return sorted(
            tuple(str(v) for v in r) for r in DailyRollup.objects.filter(affiliate_id=partner.pk).values_list(*fields)
        )

    upkeep.rollups_refresh(now=NOW + dt.timedelta(hours=2))
    assert partner_rows() == []
    PromoCodeFactory(brand=brand, affiliate=partner, code="WELCOME")

    with django_capture_on_commit_callbacks(execute=True):
        rerun(mgmt, customers=[untagged.pk], dry_run=False, reason="Promo code WELCOME was missing")
    upkeep.rollups_refresh(now=NOW + dt.timedelta(hours=3))

    refreshed = partner_rows()
    assert refreshed, "the partner's day gets the registration and the FTD"
    upkeep.rollups_rebuild(start=NOW.date() - dt.timedelta(days=1), end=NOW.date() + dt.timedelta(days=1))
    assert partner_rows() == refreshed

"""What a partner sees and changes on the portal's pages: figures to the cent, exports, links, postbacks,
API keys, payment details and sub-affiliates."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from affiliates.models import Affiliate
from affiliates.tests.factories import AffiliateFactory
from commissions.choices import EntryKind, EntryStatus
from core.models import ApiKey
from integrations.webhooks.models import Delivery, PartnerPostback
from portal import reports
from tracking.models import TrackingLink
from tracking.tests.factories import ClickFactory, CustomerFactory

from .conftest import make_partner
from .factories import CommissionEntryFactory

pytestmark = pytest.mark.django_db


def today() -> str:
    return timezone.now().date().isoformat()


# --- Dashboard and reports ------------------------------------------------------------------------


def test_the_dashboard_shows_the_period_totals_and_the_change_from_the_previous_period(portal, world):
    ClickFactory(link=world.link, created_at=timezone.now() - dt.timedelta(days=35))  # the previous 30 days
    answer = portal.get("/portal/")
    board = answer.context["board"]
    assert (board.totals.clicks, board.totals.registrations, board.totals.ftds) == (1, 1, 1)
    assert board.totals.deposit_amount == Decimal("50.00")
    assert board.totals.commission == {"EUR": Decimal("200.00")}
    assert board.previous.clicks == 1 and board.changes["clicks"] == Decimal("0.0")
    assert board.changes["ftds"] is None  # nothing to compare with
    chart = answer.context["chart"]
    assert len(chart["labels"]) == 30 and sum(chart["clicks"]) == 1
    assert chart["commission"]["EUR"][-1] == "200.00"
    assert b'id="chart-data" type="application/json"' in answer.content


def test_the_dashboard_range_picker_reads_the_days_and_refuses_a_backward_range(portal, world):
    answer = portal.get("/portal/", {"start": "2020-01-01", "end": "2020-01-07"})
    assert answer.context["board"].totals.clicks == 0 and len(answer.context["chart"]["labels"]) == 7
    answer = portal.get("/portal/", {"start": "2020-01-07", "end": "2020-01-01"})
    assert b"The start is after the end" in answer.content
    assert len(answer.context["chart"]["labels"]) == 30  # the default range instead


@pytest.mark.parametrize(
    ("group_by", "label"),
    [("day", None), ("brand", "lucky"), ("country", "DE"), ("sub1", "spring"), ("link", "alice banner")],
)
def test_the_report_groups_the_partners_figures(portal, world, group_by, label):
    answer = portal.get("/portal/reports/", {"group_by": group_by})
    rows = [r for r in answer.context["rows"] if r.stats.clicks or r.stats.ftds]
    assert sum(r.stats.clicks for r in rows) == 1
    assert sum(r.stats.ftds for r in rows) == 1
    if label:
        assert any(label in r.label for r in rows)


def test_the_report_sorts_by_a_column_both_ways(portal, world):
    ClickFactory.create_batch(3, link=world.link, sub1="summer")
    rows = portal.get("/portal/reports/", {"group_by": "sub1", "sort": "-clicks"}).context["rows"]
    assert [r.key for r in rows] == ["summer", "spring"]
    rows = portal.get("/portal/reports/", {"group_by": "sub1", "sort": "clicks"}).context["rows"]
    assert [r.key for r in rows] == ["spring", "summer"]


def test_the_csv_export_has_a_row_per_group_with_amounts_to_the_cent(portal, world):
    answer = portal.get("/portal/reports/", {"group_by": "sub1", "format": "csv"})
    assert answer["Content-Type"].startswith("text/csv")
    assert "attachment" in answer["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    assert rows[0] == [
        "sub1",
        "clicks",
        "registrations",
        "ftds",
        "deposits",
        "deposit_amount_EUR",
        "revenue_EUR",
        "commission_EUR",
    ]
    assert rows[1:] == [["spring", "1", "1", "1", "1", "50.00", "0.00", "200.00"]]


def test_the_csv_export_keeps_a_sub_id_from_becoming_a_spreadsheet_formula(portal, world):
    ClickFactory(link=world.link, sub2="=HYPERLINK(1)")
    rows = list(csv.reader(io.StringIO(portal.get("/portal/reports/?group_by=sub2&format=csv").content.decode())))
    assert rows[-1][:2] == ["'=HYPERLINK(1)", "1"] or rows[1][:2] == ["'=HYPERLINK(1)", "1"]


def test_a_rejected_commission_is_left_out_of_the_report(portal, world):
    CommissionEntryFactory(affiliate=world.affiliate, brand=world.brand, customer=world.customer,
                           kind=EntryKind.REVSHARE, status=EntryStatus.REJECTED, amount=Decimal("99.99"),
                           occurred_at=timezone.now() - dt.timedelta(hours=1))  # fmt: skip
    rows = portal.get("/portal/reports/", {"group_by": "brand"}).context["rows"]
    assert rows[0].stats.commission == {"EUR": Decimal("200.00")}


# --- Customers ------------------------------------------------------------------------------------


def test_customers_are_listed_by_a_stable_pseudonym_never_the_operators_id(portal, world):
    answer = portal.get("/portal/customers/")
    row = answer.context["rows"][0]
    assert world.customer.external_id.encode() not in answer.content
    assert (
        row["id"] == reports.anonymised_id(world.customer) == portal.get("/portal/customers/").context["rows"][0]["id"]
    )
    assert re.fullmatch(r"[0-9a-f]{32}", row["id"])
    assert row["status"] == "qualified"  # a CPA on hold
    assert row["commission"] == [("EUR", Decimal("200.00"))]


def test_a_customer_with_only_a_registration_is_registered(portal, world):
    CustomerFactory(affiliate=world.affiliate, brand=world.brand)
    statuses = sorted(r["status"] for r in portal.get("/portal/customers/").context["rows"])
    assert statuses == ["qualified", "registered"]


# --- Links ----------------------------------------------------------------------------------------


def test_a_partner_creates_a_link_and_sees_its_url_to_copy(portal, world):
    answer = portal.post(
        "/portal/links/", {"brand": world.brand.pk, "landing_url": "https://casino.example.com/w?x=1", "name": "Spring"}
    )
    assert answer.status_code == 302
    link = TrackingLink.objects.get(name="Spring")
    assert link.affiliate == world.affiliate and link.created_by == world.user
    page = portal.get("/portal/links/")
    assert link.url.encode() in page.content and f'data-copy="url-{link.pk}"'.encode() in page.content


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("javascript:alert(1)", b"Only absolute http"),
        ("https://user:pw@x.example.com/", b"user name or password"),
        ("", b"required"),
    ],
)
def test_a_bad_landing_url_is_refused_with_the_reason(portal, world, url, message):
    answer = portal.post("/portal/links/", {"brand": world.brand.pk, "landing_url": url})
    assert answer.status_code == 400 and message in answer.content
    assert TrackingLink.objects.filter(affiliate=world.affiliate).count() == 1


def test_each_link_shows_its_own_numbers_and_the_promo_codes_are_listed(portal, world):
    page = portal.get("/portal/links/")
    numbers = page.context["links"][0]["numbers"]
    assert (numbers.clicks, numbers.registrations, numbers.ftds) == (1, 1, 1)
    assert numbers.commission == {"EUR": Decimal("200.00")}
    assert world.promo.code.encode() in page.content


def test_pausing_a_link_stops_it(portal, world):
    portal.post(f"/portal/links/{world.link.pk}/toggle/")
    world.link.refresh_from_db()
    assert not world.link.is_active


# --- Commissions ----------------------------------------------------------------------------------


def test_commissions_show_why_and_until_when(portal, world):
    CommissionEntryFactory(
        affiliate=world.affiliate, brand=world.brand, kind=EntryKind.CPA, status=EntryStatus.REJECTED,
        status_reason="bonus abuse", amount=Decimal("150.00"),
    )  # fmt: skip
    page = portal.get("/portal/commissions/")
    assert f"until {(timezone.now() + dt.timedelta(days=30)).date():%Y-%m-%d}".encode() in page.content
    assert b"bonus abuse" in page.content
    detail = portal.get(f"/portal/commissions/{world.entry.pk}/")
    assert b"CPA 200.00 EUR: FTD 50.00 EUR" in detail.content and b"Held until" in detail.content
    only = portal.get("/portal/commissions/", {"status": "rejected"}).context["entries"]
    assert [e["entry"].status_reason for e in only] == ["bonus abuse"]


# --- Postbacks ------------------------------------------------------------------------------------


def test_a_postback_is_saved_and_a_private_target_is_refused(portal, world):
    portal.post(
        "/portal/postbacks/",
        {"event": "registration", "url_template": "https://t.example.com/?c={click_id}", "enabled": "on"},
    )
    assert PartnerPostback.objects.get(affiliate=world.affiliate, event="registration").enabled
    answer = portal.post(
        "/portal/postbacks/", {"event": "commission", "url_template": "http://127.0.0.1:8080/?c={click_id}"}
    )
    assert answer.status_code == 400 and b"This target is not allowed" in answer.content
    answer = portal.post("/portal/postbacks/", {"event": "commission", "url_template": "https://{sub1}.example.com/"})
    assert b"Macros may not appear in the host name" in answer.content
    assert not PartnerPostback.objects.filter(event="commission").exists()


def test_the_test_button_sends_through_the_real_delivery_path_and_logs_it(
    portal, world, settings, django_capture_on_commit_callbacks
):
    from integrations.webhooks.tests.receiver import start_receiver, stop_receiver
    from integrations.webhooks.transport import close_kept_connections

    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    server = start_receiver()
    try:
        PartnerPostback.objects.filter(pk=world.postback.pk).update(
            url_template=server.url("/pb?cid={click_id}&e={event}")
        )
        with django_capture_on_commit_callbacks(execute=True):
            answer = portal.post(f"/portal/postbacks/{world.postback.pk}/test/", follow=True)
    finally:
        close_kept_connections()
        stop_receiver(server)
    assert [r.path for r in server.requests] == ["/pb?cid=test-click-id&e=ftd"]
    delivery = Delivery.objects.get(postback=world.postback)
    assert delivery.status == "succeeded" and delivery.attempt_log.get().response_status == 200
    assert b"Test postback queued" in answer.content  # sent once the request's transaction commits
    log = portal.get("/portal/postbacks/")
    assert b"/pb?cid=test-click-id" in log.content and b"Succeeded" in log.content
    detail = portal.get(f"/portal/postbacks/deliveries/{delivery.pk}/")
    assert b"HTTP 200" in detail.content


def test_the_test_button_refuses_a_private_target(portal, world, django_capture_on_commit_callbacks):
    PartnerPostback.objects.filter(pk=world.postback.pk).update(url_template="http://10.0.0.8/pb?cid={click_id}")
    with django_capture_on_commit_callbacks(execute=True):
        answer = portal.post(f"/portal/postbacks/{world.postback.pk}/test/", follow=True)
    assert b"This target is not allowed" in answer.content
    assert not Delivery.objects.exists()


# --- API keys -------------------------------------------------------------------------------------


def test_a_partner_key_is_shown_once_works_on_the_partner_api_and_can_be_revoked(portal, world, client):
    from rest_framework.test import APIClient

    answer = portal.post("/portal/api-keys/", {"name": "my tracker"})
    raw = answer.context["raw"]
    assert raw.startswith("ptnr_") and answer["Cache-Control"] == "no-store"
    assert raw.encode() not in portal.get("/portal/api-keys/").content
    key = ApiKey.objects.get(affiliate=world.affiliate)
    assert key.scope == "partner" and key.created_by == world.user
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    links = api.get("/api/partner/v1/tracking-links").json()["results"]
    assert [link["token"] for link in links] == [world.link.token]
    portal.post(f"/portal/api-keys/{key.pk}/revoke/")
    from core.keys import cache_clear

    cache_clear()
    assert api.get("/api/partner/v1/tracking-links").status_code == 401


def test_a_key_needs_a_name(portal, world):
    answer = portal.post("/portal/api-keys/", {"name": " "})
    assert answer.status_code == 400 and not ApiKey.objects.exists()


# --- Payment details ------------------------------------------------------------------------------

NEW_BANK = {
    "payment_method": "bank_transfer",
    "holder": "Alice Martin",
    "iban": "GB29 NWBK 6016 1331 9268 19",
    "swift": "NWBKGB2L",
}


def request_change(portal, capture, data=NEW_BANK) -> str:
    with capture(execute=True):
        portal.post("/portal/payment/", data)
    body = mail.outbox[-1].body
    return re.search(r"/portal/payment/confirm/([^/\s]+)/", body).group(1)


def test_new_payment_details_apply_only_after_the_mailed_link_is_confirmed(
    portal, world, django_capture_on_commit_callbacks
):
    world.affiliate.payment_method, world.affiliate.payment_details = "paypal", {"email": "old@example.com"}
    world.affiliate.save()
    token = request_change(portal, django_capture_on_commit_callbacks)
    assert mail.outbox[-1].to == ["alice@example.com"]
    world.affiliate.refresh_from_db()
    assert world.affiliate.payment_details == {"email": "old@example.com"}  # nothing changed yet
    preview = portal.get(f"/portal/payment/confirm/{token}/")
    assert b"GB29NWBK60161331926819" in preview.content
    world.affiliate.refresh_from_db()
    assert world.affiliate.payment_method == "paypal"  # a link preview changes nothing
    with django_capture_on_commit_callbacks(execute=True):
        portal.post(f"/portal/payment/confirm/{token}/")
    world.affiliate.refresh_from_db()
    assert world.affiliate.payment_method == "bank_transfer"
    assert world.affiliate.payment_details == {
        "holder": "Alice Martin",
        "iban": "GB29NWBK60161331926819",
        "swift": "NWBKGB2L",
    }
    from integrations.webhooks.models import OutboxEvent

    assert OutboxEvent.objects.filter(
        type="affiliate.payment_details_changed", affiliate_id=world.affiliate.pk
    ).exists()
    assert "were changed" in mail.outbox[-1].subject


def test_a_confirmation_link_works_once(portal, world, django_capture_on_commit_callbacks):
    token = request_change(portal, django_capture_on_commit_callbacks)
    portal.post(f"/portal/payment/confirm/{token}/")
    world.affiliate.payment_details = {"iban": "changed by the manager"}
    Affiliate.objects.filter(pk=world.affiliate.pk).update(
        payment_method="other", payment_details={"instructions": "x"}
    )
    answer = portal.post(f"/portal/payment/confirm/{token}/", follow=True)
    assert b"can no longer be used" in answer.content
    assert Affiliate.objects.get(pk=world.affiliate.pk).payment_method == "other"


def test_a_confirmation_link_expires(portal, world, django_capture_on_commit_callbacks, settings):
    token = request_change(portal, django_capture_on_commit_callbacks)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=settings.PORTAL_PAYMENT_CONFIRM_HOURS, minutes=1)):
        portal.force_login(world.user)
        answer = portal.post(f"/portal/payment/confirm/{token}/", follow=True)
    assert b"expired" in answer.content
    assert Affiliate.objects.get(pk=world.affiliate.pk).payment_method != "bank_transfer"


def test_another_partners_confirmation_link_changes_nothing(client, world, other, django_capture_on_commit_callbacks):
    client.force_login(other.user)
    token = request_change(client, django_capture_on_commit_callbacks)
    client.force_login(world.user)
    answer = client.post(f"/portal/payment/confirm/{token}/", follow=True)
    assert b"belongs to another account" in answer.content
    assert Affiliate.objects.get(pk=world.affiliate.pk).payment_method != "bank_transfer"
    assert Affiliate.objects.get(pk=other.affiliate.pk).payment_method != "bank_transfer"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"payment_method": "bank_transfer", "holder": "A", "iban": "GB00NWBK60161331926819"},
            b"This IBAN is not valid",
        ),
        ({"payment_method": "bank_transfer", "iban": "GB29NWBK60161331926819"}, b"Required for this payment method"),
        ({"payment_method": "crypto", "network": "TRC20"}, b"Required for this payment method"),
        ({"payment_method": "paypal", "email": "nope"}, b"Enter a valid email address"),
    ],
)
def test_bad_payment_details_are_refused_and_nothing_is_mailed(portal, world, data, message):
    answer = portal.post("/portal/payment/", data)
    assert answer.status_code == 400 and message in answer.content
    assert mail.outbox == []


# --- Sub-affiliates -------------------------------------------------------------------------------


def test_the_sub_affiliate_page_shows_totals_and_overrides_never_their_customers(portal, world):
    _, child = make_partner("carol", parent=world.affiliate)
    customer = CustomerFactory(affiliate=child, brand=world.brand, external_id="CHILD-CUSTOMER-1")
    CommissionEntryFactory(affiliate=child, brand=world.brand, customer=customer, amount=Decimal("100.00"))
    CommissionEntryFactory(affiliate=world.affiliate, brand=world.brand, customer=customer, kind=EntryKind.SUBAFFILIATE,
                           source_affiliate=child, amount=Decimal("5.00"))  # fmt: skip
    AffiliateFactory()  # not a child
    page = portal.get("/portal/sub-affiliates/")
    (row,) = page.context["rows"]
    assert row.affiliate == child and row.registrations == 1
    assert row.commission == {"EUR": Decimal("100.00")} and row.override == {"EUR": Decimal("5.00")}
    assert page.context["override_total"] == [("EUR", Decimal("5.00"))]
    customers = portal.get("/portal/customers/").context["rows"]
    assert reports.anonymised_id(customer) not in [c["id"] for c in customers]
    entries = portal.get("/portal/commissions/", {"kind": "subaffiliate"}).context["entries"]
    assert [(e["source"], e["customer"]) for e in entries] == [(child.name, "")]


@pytest.fixture
def affiliate_audited():
    """Affiliate changes in the audit log, as the platform registers them (registered here if nothing else has)."""
    from auditlog.registry import auditlog

    registered_here = not auditlog.contains(Affiliate)
    if registered_here:
        auditlog.register(Affiliate)
    yield
    if registered_here:
        auditlog.unregister(Affiliate)


def test_a_confirmed_payment_change_is_in_the_audit_log_with_the_partner_as_actor(
    portal, world, affiliate_audited, django_capture_on_commit_callbacks
):
    from auditlog.models import LogEntry

    token = request_change(portal, django_capture_on_commit_callbacks)
    portal.post(f"/portal/payment/confirm/{token}/")
    entry = LogEntry.objects.get_for_object(world.affiliate).filter(action=LogEntry.Action.UPDATE).latest("timestamp")
    assert entry.actor == world.user
    assert "payment_method" in entry.changes_dict and "payment_details" in entry.changes_dict


def test_a_reversal_links_to_the_entry_it_reverses_and_back(portal, world):
    CommissionEntry = world.entry.__class__
    CommissionEntry.objects.filter(pk=world.entry.pk).update(status=EntryStatus.REVERSED, status_reason="chargeback")
    reversal = CommissionEntryFactory(
        affiliate=world.affiliate, brand=world.brand, kind=EntryKind.REVERSAL, amount=Decimal("-200.00"),
        reverses=world.entry, explanation="Reversal of CPA 200.00 EUR: chargeback on 2026-11-20",
    )  # fmt: skip
    page = portal.get("/portal/commissions/")
    assert f"reverses #{world.entry.pk}".encode() in page.content
    detail = portal.get(f"/portal/commissions/{world.entry.pk}/")
    assert b"Why reversed" in detail.content and b"chargeback" in detail.content
    assert f"/portal/commissions/{reversal.pk}/".encode() in detail.content
    assert portal.get("/portal/commissions/balance/").status_code == 404  # ids only
    balance = portal.get("/portal/commissions/").context["balances"][0]
    assert balance.balance == Decimal("0.00")


def test_the_deals_page_shows_the_terms_that_apply_with_the_partners_overrides(portal, world):
    from affiliates.services import deal_update
    from affiliates.tests.factories import DealAssignmentFactory, DealFactory

    deal = DealFactory(brand=world.brand, name="Casino CPA")
    DealAssignmentFactory(deal=deal, affiliate=world.affiliate, overrides={"cpa_amount": "250.00"})
    deal_update(deal=deal, terms={"hold_days": 14}, effective_from=dt.date(2021, 1, 1), note="shorter hold")
    other_deal = DealFactory(brand=world.brand, name="Someone else's deal")
    DealAssignmentFactory(deal=other_deal)
    page = portal.get("/portal/deals/")
    (row,) = page.context["rows"]
    current = dict(row["current"]["summary"])
    assert current["CPA"] == "250.00 EUR" and current["Hold"] == "14 days"
    assert "minimum FTD 20.00" in current["Qualification"]
    assert dict(row["history"][1]["summary"])["Hold"] == "30 days"
    assert b"shorter hold" not in page.content or b"Version 1" in page.content
    assert b"Someone else" not in page.content

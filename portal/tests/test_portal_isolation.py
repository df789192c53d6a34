"""The isolation matrix: with two partners, every portal URL and every partner API endpoint answers 404
(or 403) for the other partner's ids, changes nothing of theirs, and no page or export shows their rows."""

import re

import pytest
from django.core.management import call_command

from affiliates.tests.factories import DealAssignmentFactory
from core.models import ApiKey
from integrations.webhooks.models import Delivery, OutboxEvent, PartnerPostback
from portal import reports
from portal.services import partner_key_create
from tracking.models import AttributionMiss
from tracking.tests.factories import CustomerFactory

from .test_portal_statements import statement_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other):
    """The other partner's ids of every kind a URL can carry."""
    key, _ = partner_key_create(affiliate=other.affiliate, name="their key", by=other.user)
    event = OutboxEvent.objects.create(
        type="webhook.test", affiliate_id=other.affiliate.pk, created_at=other.link.created_at
    )
    delivery = Delivery.objects.create(event=event, postback=other.postback, url="https://t.example.com/")
    assignment = DealAssignmentFactory(affiliate=other.affiliate, deal__brand=other.brand)
    statement = statement_for(other.affiliate, other.brand, "400.00")
    untagged = CustomerFactory(affiliate=None, brand=other.brand, external_id="UNTAGGED-1")
    miss = AttributionMiss.objects.create(
        customer=untagged, hint="click_id", value=other.click.click_id, reason="click_after_event",
        message="Click was made 3 hours after the event.", affiliate=other.affiliate, click=other.click,
        occurred_at=other.link.created_at,
    )  # fmt: skip
    return {
        "miss": miss.pk,
        "statement": statement.pk,
        "link": other.link.pk,
        "entry": other.entry.pk,
        "postback": other.postback.pk,
        "delivery": delivery.pk,
        "key": key.pk,
        "assignment": assignment.pk,
    }


READ_URLS = [
    "/portal/links/{link}/",
    "/portal/commissions/{entry}/",
    "/portal/postbacks/deliveries/{delivery}/",
    "/portal/statements/{statement}/pdf/",
]
WRITE_URLS = [
    "/portal/links/{link}/toggle/",
    "/portal/postbacks/{postback}/test/",
    "/portal/postbacks/{postback}/delete/",
    "/portal/api-keys/{key}/revoke/",
]


@pytest.mark.parametrize("template", READ_URLS)
def test_a_portal_page_with_another_partners_id_is_not_found(portal, theirs, template):
    assert portal.get(template.format(**theirs)).status_code == 404


@pytest.mark.parametrize("template", WRITE_URLS)
def test_a_portal_action_on_another_partners_id_is_not_found_and_changes_nothing(portal, other, theirs, template):
    assert portal.post(template.format(**theirs)).status_code == 404
    other.link.refresh_from_db()
    assert other.link.is_active
    assert PartnerPostback.objects.filter(pk=other.postback.pk).exists()
    assert ApiKey.objects.get(pk=theirs["key"]).revoked_at is None
    assert Delivery.objects.filter(postback=other.postback).count() == 1  # no test was sent


@pytest.mark.parametrize("template", [*READ_URLS, *WRITE_URLS])
def test_the_same_urls_work_for_their_owner(client, other, theirs, template):
    client.force_login(other.user)
    answer = client.post(template.format(**theirs)) if template in WRITE_URLS else client.get(template.format(**theirs))
    assert answer.status_code in (200, 302)


LIST_PAGES = [
    "/portal/",
    "/portal/reports/?group_by=link",
    "/portal/reports/?group_by=sub1&format=csv",
    "/portal/customers/",
    "/portal/customers/?brand={brand}",
    "/portal/customers/unattributed/",
    "/portal/links/",
    "/portal/deals/",
    "/portal/commissions/",
    "/portal/statements/",
    "/portal/postbacks/",
    "/portal/api-keys/",
    "/portal/sub-affiliates/",
]


@pytest.mark.parametrize("template", LIST_PAGES)
def test_no_list_page_or_export_shows_the_other_partners_rows(portal, world, other, theirs, template):
    from tracking.tests.factories import ClickFactory

    ClickFactory(link=other.link, sub1="their-campaign")
    content = portal.get(template.format(brand=other.brand.pk)).content
    for secret in (
        other.link.token,
        other.link.name,
        reports.anonymised_id(other.customer)[:12],
        other.postback.url_template,
        "their key",
        "their-campaign",
        other.affiliate.name,
    ):
        assert secret.encode() not in content, secret


def test_the_report_counts_only_the_partners_own_clicks(portal, world, other):
    from tracking.tests.factories import ClickFactory

    ClickFactory.create_batch(5, link=other.link)
    rows = portal.get("/portal/reports/", {"group_by": "brand"}).context["rows"]
    assert [r.stats.clicks for r in rows] == [1]


# --- The partner API ------------------------------------------------------------------------------


API_DETAILS = [
    "/api/partner/v1/deals/{assignment}",
    "/api/partner/v1/commissions/{entry}",
    "/api/partner/v1/tracking-links/{link}",
    "/api/partner/v1/postbacks/{postback}",
    "/api/partner/v1/payouts/{statement}",
    "/api/partner/v1/payouts/{statement}/pdf",
    "/api/partner/v1/unattributed/{miss}",
]


@pytest.mark.parametrize("template", API_DETAILS)
def test_every_partner_api_endpoint_answers_404_for_another_partners_id(api, world, other, theirs, template):
    client = api("partner", affiliate=world.affiliate)
    url = template.format(**theirs)
    assert client.get(url).status_code == 404
    owner = api("partner", affiliate=other.affiliate)
    assert owner.get(url).status_code == 200


def test_the_partner_api_cannot_change_or_delete_another_partners_postback(api, world, other):
    client = api("partner", affiliate=world.affiliate)
    url = f"/api/partner/v1/postbacks/{other.postback.pk}"
    assert client.patch(url, {"enabled": False}).status_code == 404
    assert client.put(url, {"event": "ftd", "url_template": "https://evil.example.com/"}).status_code == 404
    assert client.delete(url).status_code == 404
    other.postback.refresh_from_db()
    assert other.postback.enabled and other.postback.url_template.startswith("https://tracker.example.com/")


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("/api/partner/v1/deals", "assignment"),
        ("/api/partner/v1/commissions", "entry"),
        ("/api/partner/v1/tracking-links", "link"),
        ("/api/partner/v1/postbacks", "postback"),
    ],
)
def test_partner_api_lists_hold_only_the_keys_own_rows(api, world, other, theirs, url, kind):
    rows = api("partner", affiliate=world.affiliate).get(url).json()["results"]
    assert theirs[kind] not in [row["id"] for row in rows]
    assert rows == [] or kind == "entry" or all(other.link.token != row.get("token") for row in rows)
    owner_rows = api("partner", affiliate=other.affiliate).get(url).json()["results"]
    assert theirs[kind] in [row["id"] for row in owner_rows]


def test_partner_api_statistics_and_balance_count_only_the_keys_own_rows(api, world, other):
    from tracking.tests.factories import ClickFactory

    ClickFactory.create_batch(4, link=other.link)
    client = api("partner", affiliate=world.affiliate)
    stats = client.get("/api/partner/v1/stats?group_by=brand").json()["results"]
    assert [row["clicks"] for row in stats] == [1]
    balance = client.get("/api/partner/v1/commissions/balance").json()["results"]
    assert [(b["currency"], b["balance"]) for b in balance] == [("EUR", "200.00")]


def test_the_matrix_covers_every_portal_url_with_an_id():
    """A new portal URL that takes an id must join the matrix above."""
    from portal.urls import urlpatterns

    with_ids = {str(p.pattern) for p in urlpatterns if "<int:" in str(p.pattern)}
    covered = {re.sub(r"\{\w+\}", "<int:pk>", t.removeprefix("/portal/")) for t in READ_URLS + WRITE_URLS}
    assert with_ids <= covered, with_ids - covered


def test_the_matrix_covers_every_partner_api_detail_route():
    from portal.api.urls import router

    prefixes = {prefix for prefix, _, _ in router.registry}
    assert prefixes == {t.split("/")[4] for t in API_DETAILS}, prefixes
    assert call_command  # the schema check in CI covers the rest of the API surface

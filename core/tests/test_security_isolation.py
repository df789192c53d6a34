"""The partner isolation matrix: over every partner API endpoint, a partner key sees, reads and changes only its
own affiliate's rows. Another affiliate's objects answer 404 (never 403: their existence is not disclosed),
lists never include them, and a write cannot be pointed at another affiliate. And the key scopes: a source key
reaches only its own source's ingestion, a partner key nothing of the management API."""

import pytest

from affiliates.tests.factories import AffiliateFactory, BrandFactory, DealAssignmentFactory, DealFactory
from integrations.tests.factories import SourceFactory
from integrations.webhooks.models import PartnerPostback
from integrations.webhooks.tests.factories import PartnerPostbackFactory
from portal.tests.factories import CommissionEntryFactory
from tracking.models import TrackingLink
from tracking.tests.factories import TrackingLinkFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(api):
    brand = BrandFactory(slug="lucky")
    mine, theirs = AffiliateFactory(), AffiliateFactory()
    rows = {}
    for who in (mine, theirs):
        rows[who.pk] = {
            "deals": DealAssignmentFactory(affiliate=who, deal=DealFactory(brand=brand)).pk,
            "commissions": CommissionEntryFactory(affiliate=who, brand=brand).pk,
            "tracking-links": TrackingLinkFactory(affiliate=who, brand=brand).pk,
            "postbacks": PartnerPostbackFactory(affiliate=who).pk,
        }
    return {"client": api("partner", affiliate=mine), "mine": mine, "theirs": theirs, "rows": rows}


RESOURCES = ["deals", "commissions", "tracking-links", "postbacks"]


def _ids(answer) -> set:
    assert answer.status_code == 200, answer.content
    return {row["id"] for row in answer.json()["results"]}


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_list_holds_only_the_keys_own_rows(world, resource):
    seen = _ids(world["client"].get(f"/api/partner/v1/{resource}"))
    assert world["rows"][world["mine"].pk][resource] in seen
    assert world["rows"][world["theirs"].pk][resource] not in seen


@pytest.mark.parametrize("resource", RESOURCES)
def test_another_affiliates_object_is_404_to_read(world, resource):
    client = world["client"]
    assert client.get(f"/api/partner/v1/{resource}/{world['rows'][world['mine'].pk][resource]}").status_code == 200
    answer = client.get(f"/api/partner/v1/{resource}/{world['rows'][world['theirs'].pk][resource]}")
    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_another_affiliates_postback_is_404_to_change_and_stays_as_it_was(world, method):
    theirs = world["rows"][world["theirs"].pk]["postbacks"]
    before = PartnerPostback.objects.get(pk=theirs)
    body = {"event": "ftd", "url_template": "https://evil.example.com/?c={click_id}", "enabled": False}
    answer = getattr(world["client"], method)(f"/api/partner/v1/postbacks/{theirs}", body)
    assert answer.status_code == 404
    after = PartnerPostback.objects.get(pk=theirs)
    assert (after.url_template, after.enabled) == (before.url_template, before.enabled)


def test_a_created_postback_belongs_to_the_key_whatever_the_body_says(world):
    body = {"event": "registration", "url_template": "https://t.example.com/?c={click_id}",
            "affiliate": world["theirs"].pk}  # fmt: skip
    answer = world["client"].post("/api/partner/v1/postbacks", body)
    assert answer.status_code in (201, 400), answer.content
    assert not PartnerPostback.objects.filter(affiliate=world["theirs"], event="registration").exists()


def test_a_created_tracking_link_belongs_to_the_key_whatever_the_body_says(world):
    body = {"brand": "lucky", "landing_url": "https://casino.example.com/", "affiliate": world["theirs"].pk}
    answer = world["client"].post("/api/partner/v1/tracking-links", body)
    assert answer.status_code in (201, 400), answer.content
    assert TrackingLink.objects.filter(affiliate=world["theirs"]).count() == 1


def test_the_balance_and_stats_count_only_the_keys_own_ledger(world):
    CommissionEntryFactory(affiliate=world["theirs"], amount="999.99")
    balance = world["client"].get("/api/partner/v1/commissions/balance")
    assert balance.status_code == 200
    assert "999.99" not in balance.content.decode()
    assert "200.00" in balance.content.decode()
    stats = world["client"].get("/api/partner/v1/stats?from=2026-11-01&to=2026-11-30")
    assert stats.status_code == 200 and "999.99" not in stats.content.decode()


def test_a_source_key_reaches_only_its_own_sources_postback(api):
    mine, other = SourceFactory(), SourceFactory()
    client = api("source", source=mine)
    key = client.raw_key
    from django.test import Client

    answer = Client().get(f"/postback/{other.slug}/?type=registration&customer_id=c&key={key}")
    assert answer.status_code == 401 and answer.json()["code"] == "wrong_source_key"


@pytest.mark.parametrize(
    "url", ["/api/v1/sources", "/api/v1/commissions", "/api/v1/inbound-events", "/api/v1/webhook-endpoints"]
)
def test_source_and_partner_keys_cannot_read_the_management_api(api, url):
    assert api("source", source=SourceFactory()).get(url).status_code == 403
    assert api("partner", affiliate=AffiliateFactory()).get(url).status_code == 403


def test_a_source_key_cannot_read_events_only_send_them(api):
    client = api("source", source=SourceFactory())
    assert client.get("/api/v1/events").status_code == 403

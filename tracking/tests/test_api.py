import datetime as dt

import pytest

from affiliates.tests.factories import AffiliateFactory, BrandFactory
from tracking.models import AttributionConflict, TrackingLink
from tracking.services import customer_reassign
from tracking.tests.factories import ClickFactory, CustomerFactory, TrackingLinkFactory

pytestmark = pytest.mark.django_db


def test_manager_creates_a_tracking_link_and_gets_token_and_url(mgmt, settings):
    settings.PUBLIC_BASE_URL = "https://go.example.com"
    brand, affiliate = BrandFactory(slug="lucky"), AffiliateFactory()

    response = mgmt.post(
        "/api/v1/tracking-links",
        {
            "affiliate": affiliate.pk,
            "brand": "lucky",
            "landing_url": "https://lucky.example/?lang=de",
            "name": "Banner",
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    link = TrackingLink.objects.get()
    assert body["token"] == link.token and len(link.token) >= 22
    assert body["url"] == f"https://go.example.com/t/{link.token}"
    assert (link.brand, link.affiliate, link.landing_url) == (brand, affiliate, "https://lucky.example/?lang=de")


@pytest.mark.parametrize(
    "landing_url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "/relative/path",
        "//no-scheme.example/",
        "ftp://files.example/",
        "https://",
        "https://exa mple.com/",
        "https://user:pass@evil.example/",
        "https://not_a_host/",
        "https://lucky.example/" + "a" * 2000,
        "",
    ],
)
def test_bad_landing_urls_are_refused_at_creation(mgmt, landing_url):
    BrandFactory(slug="lucky")

    response = mgmt.post(
        "/api/v1/tracking-links", {"affiliate": AffiliateFactory().pk, "brand": "lucky", "landing_url": landing_url}
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert any(e["field"] == "landing_url" for e in response.json()["errors"])
    assert not TrackingLink.objects.exists()


def test_tracking_link_rejects_unknown_fields_and_client_chosen_token(mgmt):
    BrandFactory(slug="lucky")

    response = mgmt.post(
        "/api/v1/tracking-links",
        {"affiliate": AffiliateFactory().pk, "brand": "lucky", "landing_url": "https://a.example/", "token": "mine"},
    )

    assert response.status_code == 400


def test_tracking_links_list_filters_by_brand_and_affiliate(mgmt):
    link = TrackingLinkFactory(brand=BrandFactory(slug="lucky"))
    TrackingLinkFactory()

    body = mgmt.get(f"/api/v1/tracking-links?brand=lucky&affiliate={link.affiliate_id}").json()

    assert [row["token"] for row in body["results"]] == [link.token]


def test_partner_key_cannot_use_management_tracking_links(api):
    partner = api("partner", affiliate=AffiliateFactory())

    assert partner.get("/api/v1/tracking-links").status_code == 403


def test_customers_list_filters_and_shows_attribution(mgmt):
    brand = BrandFactory(slug="lucky")
    click = ClickFactory(link__brand=brand, sub1="fb")
    customer = CustomerFactory(
        brand=brand, external_id="P-77", affiliate=click.affiliate, click=click, link=click.link, sub1="fb",
        attribution_method="click_id",
    )  # fmt: skip
    CustomerFactory(brand=brand, external_id="P-78")
    CustomerFactory(external_id="P-77")  # same id at another brand
    AttributionConflict.objects.create(customer=customer, method="promo_code", value="RIVAL")

    body = mgmt.get("/api/v1/customers?external_id=P-77&brand=lucky").json()

    assert len(body["results"]) == 1
    row = body["results"][0]
    assert row["affiliate"] == click.affiliate_id
    assert row["click_id"] == click.click_id
    assert row["tracking_link"] == click.link.token
    assert row["sub1"] == "fb"
    assert row["attribution_method"] == "click_id"
    assert row["registered_at"]
    assert row["conflicts"][0]["value"] == "RIVAL"


def test_customers_filter_by_affiliate_and_conflicts(mgmt):
    mine = CustomerFactory()
    CustomerFactory()
    AttributionConflict.objects.create(customer=mine, method="affiliate_id", value="9")

    by_affiliate = mgmt.get(f"/api/v1/customers?affiliate={mine.affiliate_id}").json()["results"]
    with_conflicts = mgmt.get("/api/v1/customers?has_conflicts=true").json()["results"]

    assert [c["id"] for c in by_affiliate] == [mine.pk]
    assert [c["id"] for c in with_conflicts] == [mine.pk]


def test_customer_read_shows_reassignment_audit(mgmt):
    customer = CustomerFactory(registered_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    new = AffiliateFactory()
    customer_reassign(customer=customer, affiliate=new, reason="Ticket 42: promo code misuse", by=None)

    row = mgmt.get(f"/api/v1/customers/{customer.pk}").json()

    assert row["affiliate"] == new.pk
    assert row["attribution_method"] == "manual"
    assert row["reassignments"][0]["reason"] == "Ticket 42: promo code misuse"
    assert row["registered_at"] == "2026-11-01T00:00:00Z"


def test_customers_cannot_be_written_through_the_api(mgmt):
    customer = CustomerFactory()

    assert mgmt.post("/api/v1/customers", {"external_id": "x"}).status_code == 405
    assert mgmt.patch(f"/api/v1/customers/{customer.pk}", {"affiliate": None}).status_code == 405

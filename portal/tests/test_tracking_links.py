"""`tracking-links`: a partner lists and creates links for itself only, with the management API's
landing URL validation."""

import pytest

from affiliates.tests.factories import AffiliateFactory, BrandFactory
from tracking.models import TrackingLink
from tracking.tests.factories import TrackingLinkFactory

pytestmark = pytest.mark.django_db

URL = "/api/partner/v1/tracking-links"


@pytest.fixture
def brand():
    return BrandFactory(slug="lucky-casino")


def test_partner_creates_a_link_for_itself(api, brand, settings):
    mine = AffiliateFactory()
    answer = api("partner", affiliate=mine).post(
        URL, {"brand": "lucky-casino", "landing_url": "https://casino.example.com/de?x=1", "name": "Banner"}
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    link = TrackingLink.objects.get()
    assert (link.affiliate_id, link.brand_id, link.landing_url, link.name) == (
        mine.pk, brand.pk, "https://casino.example.com/de?x=1", "Banner",
    )  # fmt: skip
    assert body["token"] == link.token and body["url"] == f"{settings.PUBLIC_BASE_URL}/t/{link.token}"
    assert body["brand"] == "lucky-casino" and body["is_active"] is True


def test_partner_cannot_create_a_link_for_another_affiliate(api, brand):
    mine, other = AffiliateFactory(), AffiliateFactory()
    answer = api("partner", affiliate=mine).post(
        URL, {"brand": "lucky-casino", "landing_url": "https://casino.example.com/", "affiliate": other.pk}
    )
    assert answer.status_code == 400
    assert [e["field"] for e in answer.json()["errors"]] == ["affiliate"]
    assert not TrackingLink.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"brand": "no-such-brand", "landing_url": "https://casino.example.com/"}, "brand"),
        ({"brand": "closed", "landing_url": "https://casino.example.com/"}, "brand"),
        ({"brand": "lucky-casino", "landing_url": "javascript:alert(1)"}, "landing_url"),
        ({"brand": "lucky-casino", "landing_url": "ftp://casino.example.com/"}, "landing_url"),
        ({"brand": "lucky-casino", "landing_url": "https://user:pw@casino.example.com/"}, "landing_url"),
        ({"brand": "lucky-casino", "landing_url": "/relative"}, "landing_url"),
        ({"brand": "lucky-casino"}, "landing_url"),
    ],
)
def test_bad_brand_or_landing_url_is_a_400_problem(api, brand, body, field):
    BrandFactory(slug="closed", is_active=False)
    answer = api("partner", affiliate=AffiliateFactory()).post(URL, body)
    assert answer.status_code == 400
    assert answer["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert not TrackingLink.objects.exists()


def test_list_and_read_show_only_the_partners_own_links(api, brand):
    mine, other = AffiliateFactory(), AffiliateFactory()
    own = TrackingLinkFactory(affiliate=mine, brand=brand)
    theirs = TrackingLinkFactory(affiliate=other, brand=brand)
    partner = api("partner", affiliate=mine)
    assert [row["id"] for row in partner.get(URL).json()["results"]] == [own.pk]
    assert partner.get(f"{URL}/{own.pk}").json()["landing_url"] == own.landing_url
    assert partner.get(f"{URL}/{theirs.pk}").status_code == 404


def test_a_repeated_create_with_the_same_idempotency_key_makes_one_link(api, brand):
    partner = api("partner", affiliate=AffiliateFactory())
    body = {"brand": "lucky-casino", "landing_url": "https://casino.example.com/"}
    first = partner.post(URL, body, HTTP_IDEMPOTENCY_KEY="link-1")
    again = partner.post(URL, body, HTTP_IDEMPOTENCY_KEY="link-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert TrackingLink.objects.count() == 1

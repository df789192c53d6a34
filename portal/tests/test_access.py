"""Every partner endpoint answers only a partner key: management and source keys get 403, no key 401."""

import pytest

from affiliates.tests.factories import AffiliateFactory
from integrations.tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "/api/partner/v1/deals",
    "/api/partner/v1/commissions",
    "/api/partner/v1/commissions/balance",
    "/api/partner/v1/tracking-links",
    "/api/partner/v1/stats",
    "/api/partner/v1/postbacks",
]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_a_partner_key_reads_every_endpoint(api, url):
    answer = api("partner", affiliate=AffiliateFactory()).get(url)
    assert answer.status_code == 200, answer.content


@pytest.mark.parametrize("url", ENDPOINTS)
def test_management_and_source_keys_are_forbidden(api, url):
    for client in (api("management"), api("source", source=SourceFactory())):
        answer = client.get(url)
        assert answer.status_code == 403
        assert answer["Content-Type"].startswith("application/problem+json")


@pytest.mark.parametrize("url", ENDPOINTS)
def test_no_key_is_unauthenticated(client, url):
    answer = client.get(url)
    assert answer.status_code == 401
    assert answer["Content-Type"].startswith("application/problem+json")


def test_creating_a_link_needs_a_partner_key(api, client):
    body = {"brand": "x", "landing_url": "https://casino.example.com/"}
    assert client.post("/api/partner/v1/tracking-links", body, content_type="application/json").status_code == 401
    assert api("management").post("/api/partner/v1/tracking-links", body).status_code == 403


def test_partner_keys_cannot_reach_the_management_api(api):
    partner = api("partner", affiliate=AffiliateFactory())
    assert partner.get("/api/v1/commissions").status_code == 403
    assert partner.get("/api/v1/tracking-links").status_code == 403

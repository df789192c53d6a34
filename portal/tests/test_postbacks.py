"""`postbacks` (the webhooks app's partner routes, served here): a partner manages only its own templates."""

import pytest

from affiliates.tests.factories import AffiliateFactory
from integrations.webhooks.models import PartnerPostback
from integrations.webhooks.tests.factories import PartnerPostbackFactory

pytestmark = pytest.mark.django_db

URL = "/api/partner/v1/postbacks"


def test_partner_creates_lists_and_deletes_only_its_own_postbacks(api):
    mine, other = AffiliateFactory(), AffiliateFactory()
    theirs = PartnerPostbackFactory(affiliate=other, event="ftd")
    partner = api("partner", affiliate=mine)

    created = partner.post(URL, {"event": "ftd", "url_template": "https://t.example.com/?c={click_id}"})

    assert created.status_code == 201, created.content
    own = PartnerPostback.objects.get(affiliate=mine)
    assert [row["id"] for row in partner.get(URL).json()["results"]] == [own.pk]
    assert partner.get(f"{URL}/{theirs.pk}").status_code == 404
    assert partner.delete(f"{URL}/{theirs.pk}").status_code == 404
    assert partner.patch(f"{URL}/{theirs.pk}", {"enabled": False}).status_code == 404
    assert PartnerPostback.objects.get(pk=theirs.pk).enabled is True
    assert [row["id"] for row in api("partner", affiliate=other).get(URL).json()["results"]] == [theirs.pk]


def test_a_javascript_template_is_refused(api):
    partner = api("partner", affiliate=AffiliateFactory())
    answer = partner.post(URL, {"event": "ftd", "url_template": "javascript:alert({click_id})"})
    assert answer.status_code == 400
    assert answer["Content-Type"].startswith("application/problem+json")
    assert not PartnerPostback.objects.exists()

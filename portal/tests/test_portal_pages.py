"""Every portal page renders for a partner, with the partner's own figures."""

import pytest

pytestmark = pytest.mark.django_db

PAGES = [
    "/portal/",
    "/portal/reports/",
    "/portal/customers/",
    "/portal/links/",
    "/portal/commissions/",
    "/portal/postbacks/",
    "/portal/api-keys/",
    "/portal/payment/",
    "/portal/sub-affiliates/",
    "/portal/security/",
]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_renders_for_a_partner(portal, url):
    answer = portal.get(url)
    assert answer.status_code == 200, answer.content[:500]
    assert b"<script>" not in answer.content and b"onclick" not in answer.content
    assert b'style="' not in answer.content

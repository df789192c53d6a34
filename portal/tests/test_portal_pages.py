"""Every portal page renders for a partner, and none has inline script, event handlers or style attributes:
the portal works under a Content-Security-Policy of `script-src 'self'; style-src 'self'`."""

import re

import pytest
from django.test import Client

from integrations.webhooks.models import Delivery, OutboxEvent
from portal import services

pytestmark = pytest.mark.django_db

PAGES = [
    "/portal/",
    "/portal/reports/",
    "/portal/reports/?group_by=link",
    "/portal/customers/",
    "/portal/customers/unattributed/",
    "/portal/links/",
    "/portal/links/{link}/",
    "/portal/deals/",
    "/portal/commissions/",
    "/portal/commissions/{entry}/",
    "/portal/statements/",
    "/portal/postbacks/",
    "/portal/postbacks/deliveries/{delivery}/",
    "/portal/api-keys/",
    "/portal/payment/",
    "/portal/payment/confirm/{token}/",
    "/portal/sub-affiliates/",
    "/portal/security/",
]
PUBLIC_PAGES = ["/portal/login/", "/portal/signup/", "/portal/password-reset/", "/portal/password-reset/sent/"]

INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
HANDLER = re.compile(rb"<[^>]+\son[a-z]+\s*=", re.I)
STYLE = re.compile(rb"<[^>]+\sstyle\s*=|<style", re.I)


def assert_csp_clean(content: bytes) -> None:
    assert not INLINE_SCRIPT.search(content), INLINE_SCRIPT.search(content)
    assert not HANDLER.search(content), HANDLER.search(content)
    assert not STYLE.search(content), STYLE.search(content)


@pytest.fixture
def ids(world):
    event = OutboxEvent.objects.create(
        type="webhook.test", affiliate_id=world.affiliate.pk, created_at=world.link.created_at
    )
    delivery = Delivery.objects.create(event=event, postback=world.postback, url="https://t.example.com/")
    token = services.payment_change_request(
        affiliate=world.affiliate, user=world.user, payment_method="paypal", payment_details={"email": "a@example.com"}
    )
    return {"link": world.link.pk, "entry": world.entry.pk, "delivery": delivery.pk, "token": token}


@pytest.mark.parametrize("url", PAGES)
def test_every_page_renders_for_a_partner_without_inline_code(portal, ids, url):
    answer = portal.get(url.format(**ids))
    assert answer.status_code == 200, answer.content[:500]
    assert_csp_clean(answer.content)


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_the_public_pages_render_without_inline_code(db, url):
    answer = Client().get(url)
    assert answer.status_code == 200
    assert_csp_clean(answer.content)


def test_the_two_factor_set_up_and_a_new_key_render_without_inline_code(portal, world):
    portal.post("/portal/security/two-factor/start/")
    page = portal.get("/portal/security/")
    assert b"<svg" in page.content
    assert_csp_clean(page.content)
    page = portal.post("/portal/api-keys/", {"name": "tracker"})
    assert b"Your new key" in page.content
    assert_csp_clean(page.content)


def test_every_form_control_has_a_label(portal, ids):
    """Each input, select and textarea is named by a <label for>, aria-label or aria-labelledby."""
    for url in PAGES:
        content = portal.get(url.format(**ids)).content.decode()
        labelled = set(re.findall(r'<label for="([^"]+)"', content))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", content):
            if re.search(r'type="(hidden|submit)"', tag):
                continue
            control_id = re.search(r'id="([^"]+)"', tag)
            named = (
                "aria-label=" in tag or "aria-labelledby=" in tag or (control_id and control_id.group(1) in labelled)
            )
            assert named, (url, tag)

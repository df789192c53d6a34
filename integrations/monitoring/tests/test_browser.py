"""The dashboard and a health page in a real browser (the machine's Chromium, headless, offline).

Playwright's sync API runs an event loop in its thread, where Django refuses ORM calls; so the data is
made here and the browser runs in a worker thread that only speaks HTTP to the live server."""

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.tests.factories import SourceFactory
from tracking.tests.factories import ClickFactory, ConversionEventFactory, CustomerFactory

from .factories import InboundEventFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"


def _browse(base_url: str, source_id: int) -> dict:
    from playwright.sync_api import sync_playwright

    seen: dict = {"external_requests": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            # Offline: anything not served by the platform itself is refused and recorded.
            page.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith(base_url)
                    else (seen["external_requests"].append(route.request.url), route.abort())
                ),
            )
            page.goto(f"{base_url}/admin/login/?next=/admin/")
            page.fill("input[name=username]", "browser-manager")
            page.fill("input[name=password]", "a-long-test-password")
            page.click("[type=submit]")
            page.wait_for_selector("#programme-dashboard")
            seen["dashboard"] = page.eval_on_selector_all(
                "svg.monitoring-chart",
                """els => els.map(e => ({points: Number(e.dataset.points),
                    width: e.getBoundingClientRect().width, height: e.getBoundingClientRect().height,
                    marks: e.querySelectorAll('polyline.series, rect.bar').length}))""",
            )
            seen["dashboard_text"] = page.inner_text("#programme-dashboard")
            page.goto(f"{base_url}/admin/monitoring/alert/health/{source_id}/")
            page.wait_for_selector("#chart-volume svg.monitoring-chart")
            seen["health"] = page.eval_on_selector_all(
                "svg.monitoring-chart",
                """els => els.map(e => ({points: Number(e.dataset.points),
                    width: e.getBoundingClientRect().width, height: e.getBoundingClientRect().height,
                    marks: e.querySelectorAll('polyline.series, rect.bar').length}))""",
            )
            seen["health_text"] = page.inner_text("#source-health")
        finally:
            browser.close()
    return seen


def test_dashboard_and_health_page_render_their_charts_in_chromium(live_server, django_user_model, settings):
    # given a manager, a source in test mode with traffic over the last hours, and some programme activity
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    django_user_model.objects.create_user(
        username="browser-manager", password="a-long-test-password", is_staff=True, is_superuser=True
    )
    source = SourceFactory(slug="browser-crm", name="Browser CRM", test_mode=True)
    now = timezone.now()
    for i in range(12):
        InboundEventFactory(source=source, received_at=now - dt.timedelta(minutes=37 * i))
    customer = CustomerFactory(brand=source.brand)
    ClickFactory.create_batch(3)
    ConversionEventFactory(source=source, brand=source.brand, customer=customer, type="registration", amount=None)
    ConversionEventFactory(source=source, brand=source.brand, customer=customer, type="ftd", amount=Decimal("50"))
    # when a browser logs in and opens the dashboard and the source's health page
    with ThreadPoolExecutor(max_workers=1) as pool:
        seen = pool.submit(_browse, live_server.url, source.pk).result(timeout=120)
    # then both charts of the dashboard and the volume chart drew marks with data, from nothing but the platform
    assert len(seen["dashboard"]) == 2
    for chart in seen["dashboard"] + seen["health"]:
        assert chart["points"] > 0 and chart["marks"] > 0
        assert chart["width"] > 100 and chart["height"] > 50
    assert "Browser CRM" in seen["dashboard_text"] and "TEST MODE" in seen["dashboard_text"]
    assert "TEST MODE" in seen["health_text"]
    assert seen["external_requests"] == []

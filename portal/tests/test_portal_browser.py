"""A partner's first day in a real browser (the machine's Chromium, headless, offline): sign up, get approved,
log in, turn on two-factor, log in again with a code, create a link, follow it, see the click in the report
and export it as CSV."""

import base64
import csv
import io
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django_otp.oath import TOTP

from affiliates.models import Affiliate
from affiliates.services import affiliate_approve
from affiliates.tests.factories import BrandFactory
from tracking.models import Click

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
# An ordinary desktop browser: the redirect flags headless user agents as bots (not billable).
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
PASSWORD = "a-long-browser-password"


def totp_code(secret_text: str, steps_ahead: int = 0) -> str:
    raw = secret_text.replace(" ", "")
    key = base64.b32decode(raw + "=" * (-len(raw) % 8))
    totp = TOTP(key)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


@pytest.fixture
def browser_page(live_server, settings, monkeypatch):
    """A Chromium page on the live server, offline: any other address is refused and recorded."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test also reads the database in between.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.PUBLIC_BASE_URL = live_server.url
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(
            user_agent=USER_AGENT, accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()

        def route(r):
            if r.request.url.startswith(live_server.url):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.outside = outside
        try:
            yield page
        finally:
            browser.close()


def test_a_partner_signs_up_logs_in_with_two_factor_and_sees_the_click_of_a_new_link(live_server, browser_page):
    page, base = browser_page, live_server.url
    # The brand's landing page: a page of this server, since the browser is offline (redirects are not routed).
    landing = f"{base}/healthz"
    BrandFactory(slug="lucky-casino", name="Lucky Casino")
    get_user_model().objects.create_user(username="mia", email="mia@example.com", is_staff=True, is_superuser=True)

    # Sign up
    page.goto(f"{base}/portal/signup/")
    page.get_by_label("Your name or brand name").fill("Spin Reviews")
    page.get_by_label("E-mail address").fill("team@spinreviews.example")
    page.get_by_label("Country").select_option("MT")
    page.get_by_label("User name").fill("spin")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_label("I accept the programme's terms and conditions").check()
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("Your application is in").wait_for()
    affiliate = Affiliate.objects.get(email="team@spinreviews.example")
    assert affiliate.status == "pending"

    # A manager approves the application
    affiliate_approve(affiliate=affiliate)

    # Log in and turn on two-factor authentication
    page.get_by_role("link", name="Log in").click()
    page.get_by_label("User name").fill("spin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.get_by_role("link", name="Security").click()
    page.get_by_role("button", name="Set up two-factor authentication").click()
    assert page.locator("figure.qr svg").count() == 1
    secret = page.locator("code.secret").inner_text()
    page.get_by_label("The 6-digit code your app shows now").fill(totp_code(secret))
    page.get_by_role("button", name="Confirm and turn on").click()
    page.get_by_text("Two-factor authentication is on").first.wait_for()
    assert page.locator("ul.codes li").count() == 10

    # Log out, log in again: the password alone is not enough
    page.get_by_role("button", name="Log out").click()
    page.get_by_label("User name").fill("spin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Two-factor code").wait_for()
    page.goto(f"{base}/portal/links/")
    assert "/portal/login/" in page.url
    page.goto(f"{base}/portal/login/")
    page.get_by_label("User name").fill("spin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(totp_code(secret, steps_ahead=1))
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("heading", name="Dashboard").wait_for()

    # Create a link and copy it
    page.get_by_role("link", name="Links").click()
    page.get_by_label("Brand").select_option(label="Lucky Casino")
    page.get_by_label("Landing page URL").fill(landing)
    page.get_by_label("Name (optional, for your reports)").fill("Spring banner")
    page.get_by_role("button", name="Create link").click()
    page.get_by_text("Link created").wait_for()
    url_box = page.get_by_role("textbox", name="Tracking URL of Spring banner")
    tracking_url = url_box.input_value()
    assert tracking_url.startswith(f"{base}/t/")
    page.get_by_role("button", name="Copy the tracking URL of Spring banner").click()
    page.get_by_role("button", name="Copy the tracking URL of Spring banner").get_by_text("Copied").wait_for()

    # Follow it, as a visitor would
    page.goto(f"{tracking_url}?sub1=spring")
    page.wait_for_url(f"{landing}?*")
    assert "click_id=" in page.url and "sub1=spring" in page.url
    click = Click.objects.get(link__name="Spring banner")
    assert click.is_billable and click.sub1 == "spring"

    # See the click in the report, grouped by link (the table is swapped in by htmx)
    page.goto(f"{base}/portal/reports/")
    page.get_by_label("Group by").select_option("link")
    page.get_by_role("button", name="Show").click()
    row = page.locator("#report tbody tr", has_text="Spring banner")
    row.wait_for()
    assert row.locator("td").first.inner_text() == "1"
    assert "group_by=link" in page.url

    # Export it
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    content = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(content)))
    assert rows[0][:2] == ["link", "clicks"]
    assert [r[:2] for r in rows[1:]] == [[rows[1][0], "1"]] and "Spring banner" in rows[1][0]

    assert page.outside == []


def test_a_partner_downloads_a_payout_statement(live_server, browser_page):
    from .conftest import PASSWORD as WORLD_PASSWORD
    from .conftest import make_partner
    from .test_portal_statements import statement_for

    page, base = browser_page, live_server.url
    _, affiliate = make_partner("stella")
    statement = statement_for(affiliate, BrandFactory(slug="lucky-casino", name="Lucky Casino"), "321.45")
    page.goto(f"{base}/portal/login/")
    page.get_by_label("User name").fill("stella")
    page.get_by_label("Password").fill(WORLD_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Statements").click()
    row = page.locator("tbody tr", has_text=statement.period)
    assert "321.45 EUR" in row.inner_text()
    with page.expect_download() as download:
        row.get_by_role("link", name=f"Download the statement of {statement.period} for Lucky Casino as PDF").click()
    assert download.value.suggested_filename.endswith(".pdf")
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    assert page.outside == []

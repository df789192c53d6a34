"""In headless Chromium, under the served Content-Security-Policy: the admin (django-unfold and its Alpine.js
components), its dashboard charts, the two-factor enrolment page and the API docs (Swagger UI) work, and the
browser reports no policy violation and loads nothing from outside the platform.

Playwright's sync API runs an event loop in its thread, where Django refuses ORM calls; so the data is made
here and the browser runs in a worker thread that only speaks HTTP to the live server."""

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _browse(base: str) -> dict:
    from playwright.sync_api import sync_playwright

    seen: dict = {"violations": [], "external": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
        try:
            page = browser.new_page()
            page.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith(base)
                    else (seen["external"].append(route.request.url), route.abort())
                ),
            )
            page.on(
                "console",
                lambda m: seen["violations"].append(m.text) if "Content Security Policy" in m.text else None,
            )
            page.on("pageerror", lambda e: seen["violations"].append(f"page error: {e}"))
            page.goto(f"{base}/admin/login/")
            page.fill("#id_username", "admin")
            page.fill("#id_password", "admin")
            # the click is refused if Alpine.js did not run: its (hidden) modal would cover the page
            page.click("#login-form button[type=submit]", timeout=10_000)
            page.wait_for_selector("#programme-dashboard")
            seen["charts"] = page.locator("#chart-traffic svg, #chart-ftds svg").count()
            seen["alpine"] = page.evaluate("typeof window.Alpine")
            page.goto(f"{base}/admin/affiliates/affiliate/")
            seen["affiliate_rows"] = page.locator("#result_list tbody tr").count()
            page.goto(f"{base}/admin/two-factor/")
            seen["qr_width"] = page.locator("#totp-qr").evaluate("img => img.naturalWidth")
            page.goto(f"{base}/api/docs/")
            page.wait_for_selector(".opblock", timeout=15_000)
            seen["operations"] = page.locator(".opblock").count()
        finally:
            browser.close()
    return seen


def test_the_admin_and_the_api_docs_work_under_the_csp(live_server, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", stdout=io.StringIO())

    with ThreadPoolExecutor(1) as pool:
        seen = pool.submit(_browse, live_server.url).result(timeout=180)

    assert seen["violations"] == []
    assert seen["external"] == []
    assert seen["alpine"] == "object"
    assert seen["charts"] == 2
    assert seen["affiliate_rows"] > 0
    assert seen["qr_width"] > 0
    assert seen["operations"] > 80

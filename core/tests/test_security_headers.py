"""Security headers and the Content-Security-Policy on every page, and secrets kept out of logs and storage."""

import logging

import pytest
from django.test import Client

from affiliates.tests.factories import BrandFactory
from core.security.logging import RedactSecrets, redact
from integrations import services
from integrations.ingestion import source_runtime_forget
from integrations.models import InboundEvent

pytestmark = pytest.mark.django_db


def csp(answer) -> dict[str, list[str]]:
    policy = answer["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split("; ")}


@pytest.mark.parametrize("url", ["/admin/login/", "/api/docs/", "/portal/", "/api/v1/brands", "/healthz"])
def test_every_answer_carries_the_basic_security_headers(client, url):
    answer = client.get(url)
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["Referrer-Policy"] == "same-origin"
    assert answer["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in answer  # plain HTTP: HSTS would mean nothing


def test_hsts_is_sent_over_https(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    answer = client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
    assert answer["Strict-Transport-Security"] == "max-age=31536000"


def test_the_portal_runs_only_its_own_scripts(client):
    policy = csp(client.get("/portal/"))
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]


def test_the_admin_adds_only_what_unfold_needs_and_no_inline_scripts(client):
    policy = csp(client.get("/admin/login/"))
    assert policy["script-src"] == ["'self'", "'unsafe-eval'"]  # Alpine.js evaluates its attribute expressions
    assert "'unsafe-inline'" in policy["style-src"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'"]


def test_the_api_docs_load_swagger_ui_from_this_platform_under_the_policy(client):
    page = client.get("/api/docs/")
    policy = csp(page)
    assert policy["script-src"] == ["'self'"]
    html = page.content.decode()
    assert "cdn.jsdelivr" not in html and "<script>" not in html
    assert client.get("/api/docs/?script=").status_code == 200


def test_the_postbacks_short_chain_keeps_the_headers(settings):
    from django.test import Client as WsgiClient

    answer = WsgiClient().get("/postback/nope/")
    assert answer["X-Content-Type-Options"] == "nosniff" and answer["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "text, secret",
    [
        ("key mgmt_0123456789ab_s3cr3tS3cr3tS3cr3t used", "s3cr3tS3cr3tS3cr3t"),
        ("GET /postback/crm/?a=1&key=src_0123456789ab_abcDEF-123&b=2", "abcDEF-123"),
        ("Authorization: Bearer ptnr_0123456789ab_zzzYYYxxx", "zzzYYYxxx"),
        ("secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw rotated", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("/postback/crm/?key=anything-else", "anything-else"),
    ],
)
def test_secrets_are_masked_in_log_messages(text, secret):
    assert secret not in redact(text)
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "seen: %s", (text,), None)
    RedactSecrets().filter(record)
    assert secret not in record.getMessage() and "seen:" in record.getMessage()


def test_the_console_log_handler_masks_secrets(caplog):
    from django.conf import settings

    assert "redact_secrets" in settings.LOGGING["handlers"]["console"]["filters"]


@pytest.fixture
def source():
    source_runtime_forget()
    source, raw = services.source_create(slug="crm", name="CRM", brand=BrandFactory(), preset="", mapping=None)
    yield source, raw
    source_runtime_forget()


@pytest.mark.parametrize(
    "query",
    [
        "type=registration&customer_id=c1&key={key}",
        "key={key}&type=registration&customer_id=c1",
        "type=registration&customer_id=c1&%6Bey={key}",
    ],
)
def test_a_postback_key_in_the_query_is_never_stored(source, query):
    src, raw = source
    answer = Client().get(f"/postback/{src.slug}/?" + query.format(key=raw))
    assert answer.status_code == 202, answer.content
    stored = InboundEvent.objects.get(source=src)
    assert raw not in stored.query_string and raw not in (stored.body or "") and raw not in str(stored.payload)
    assert "customer_id=c1" in stored.query_string


def test_a_key_sent_in_a_form_body_is_not_stored_either(source):
    src, raw = source
    answer = Client().post(
        f"/postback/{src.slug}/?key={raw}",
        f"type=registration&customer_id=c1&key={raw}",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 202, answer.content
    stored = InboundEvent.objects.get(source=src)
    assert raw not in (stored.body or "") and raw not in str(stored.payload)

"""The served OpenAPI schema, checked against the running platform with schemathesis.

Every operation of the management, ingestion and partner APIs is called in-process through the WSGI app
(the same path a request takes under gunicorn) with generated valid and invalid requests, authenticated
with a real key of the operation's scope, against the demo programme's data. No answer may be a 5xx, and
every answer must be one the schema documents: its status code, content type, headers and body.

The budget is bounded (`SCHEMATHESIS_EXAMPLES` examples per operation and mode, default 6) so that CI
finishes in about a minute.
"""

import io
import os
import re

import pytest
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "6"))


@pytest.fixture
def demo(settings):
    """The demo programme (brands, affiliates, deals, sources, events, commissions, webhooks) and a key per scope."""
    from affiliates.models import Affiliate
    from core.keys import api_key_create
    from integrations.models import Source

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    # The rate limits per key are proved in their own tests; here they would only answer 429s.
    settings.API_RATE_LIMITS = {}
    call_command("seed_demo", stdout=io.StringIO())
    affiliate = Affiliate.objects.filter(commissions__isnull=False).order_by("pk").first()
    source = Source.objects.order_by("pk").first()
    keys = {
        "management": api_key_create(name="schemathesis management", scope="management")[1],
        "partner": api_key_create(name="schemathesis partner", scope="partner", affiliate=affiliate)[1],
        "source": api_key_create(name="schemathesis source", scope="source", source=source)[1],
    }
    # The WSGI app closes "old" database connections around each request, which inside the test's transaction
    # means closing the test's own connection (on PostgreSQL); Django's test client turns that off the same way.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield {"keys": keys, "source": source, "affiliate": affiliate}
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _scope(method: str, path: str) -> str:
    if path.startswith("/api/partner/"):
        return "partner"
    if path.startswith("/postback/") or (method == "POST" and path.rstrip("/") == "/api/v1/events"):
        return "source"
    return "management"


def _real_ids(path: str, affiliate) -> list:
    """Existing primary keys (or slugs) for the object in `path`, so that generated requests reach real rows."""
    from affiliates.models import Affiliate, Brand, Deal, DealAssignment
    from commissions.models import CommissionEntry
    from integrations.models import InboundEvent, Source
    from integrations.monitoring.models import Alert, ReconciliationRun
    from integrations.webhooks.models import Delivery, PartnerPostback, WebhookEndpoint
    from tracking.models import ConversionEvent, Customer, TrackingLink

    tables = {
        "/api/v1/affiliates/": Affiliate.objects.all(),
        "/api/v1/brands/": Brand.objects.all(),
        "/api/v1/deals/": Deal.objects.all(),
        "/api/v1/deal-assignments/": DealAssignment.objects.all(),
        "/api/v1/commissions/": CommissionEntry.objects.all(),
        "/api/v1/customers/": Customer.objects.all(),
        "/api/v1/events/": ConversionEvent.objects.all(),
        "/api/v1/inbound-events/": InboundEvent.objects.all(),
        "/api/v1/tracking-links/": TrackingLink.objects.all(),
        "/api/v1/alerts/": Alert.objects.all(),
        "/api/v1/webhook-endpoints/": WebhookEndpoint.objects.all(),
        "/api/v1/webhook-deliveries/": Delivery.objects.all(),
        "/api/v1/partner-postbacks/": PartnerPostback.objects.all(),
        "/api/v1/reconciliations/": ReconciliationRun.objects.all(),
        "/api/partner/v1/postbacks/": PartnerPostback.objects.filter(affiliate=affiliate),
        "/api/partner/v1/commissions/": CommissionEntry.objects.filter(affiliate=affiliate),
        "/api/partner/v1/tracking-links/": TrackingLink.objects.filter(affiliate=affiliate),
    }
    if "{slug}" in path:
        return list(Source.objects.values_list("slug", flat=True)[:5])
    for prefix, queryset in tables.items():
        if path.startswith(prefix):
            return list(queryset.order_by("-pk").values_list("pk", flat=True)[:5])
    return []


def _checks():
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]


def _transaction_failed() -> bool:
    from django.db import connection

    if connection.vendor != "postgresql" or connection.connection is None:
        return False
    import psycopg

    return connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.INERROR


def _fuzz(operation, mode, *, headers: dict, ids: list, slug: str, checks: list) -> None:
    """Call `operation` with EXAMPLES generated requests of `mode`; raise what the checks found."""
    from schemathesis import GenerationMode

    params = re.findall(r"{(\w+)}", operation.path)

    @seed(20261204)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case, data):
        if ids and params:
            name = params[-1]
            case.path_parameters[name] = data.draw(st.sampled_from([*ids, case.path_parameters[name]]))
        if operation.path.startswith("/postback/") and mode is GenerationMode.POSITIVE:
            case.path_parameters["slug"] = slug
        # each request in its own savepoint, as each is its own transaction in production (autocommit): a
        # statement the database refuses (answered 400 or 409) must not abort the test's transaction
        with transaction.atomic():
            try:
                case.call_and_validate(headers=headers, checks=checks)
            finally:
                if _transaction_failed():  # a refused statement (answered 400): back to the savepoint
                    transaction.set_rollback(True)

    run()


def test_every_operation_answers_as_the_schema_says(demo):
    import schemathesis
    from schemathesis import GenerationMode

    from config.wsgi import application

    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    checks = _checks()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 80
    for operation in operations:
        scope = _scope(operation.method.upper(), operation.path)
        headers = {"Authorization": f"Bearer {demo['keys'][scope]}"}
        ids = _real_ids(operation.path, demo["affiliate"])
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, headers=headers, ids=ids, slug=demo["source"].slug, checks=checks)
            except (Exception, BaseExceptionGroup) as exc:  # every operation is tried; all failures are listed
                failures.append(f"{operation.method.upper()} {operation.path} [{mode.value}]: {exc}")
    assert not failures, "\n\n".join(failures)

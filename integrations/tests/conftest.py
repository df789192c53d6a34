import datetime as dt
from decimal import Decimal

import pytest

from affiliates.tests.factories import BrandFactory
from integrations import services
from integrations.ingestion import source_runtime_forget
from integrations.models import FxRate


@pytest.fixture(autouse=True)
def _fresh_source_cache():
    from django.core.cache import cache

    source_runtime_forget()
    cache.clear()  # rate-limit counters are keyed by source id, which tests reuse
    yield
    source_runtime_forget()


@pytest.fixture(autouse=True)
def _tasks_inline(request):
    """Ingestion tasks run inline here, also where REDIS_URL is set (the settings are read before the root
    conftest sets CELERY_TASK_ALWAYS_EAGER). Tests with a real worker (`broker`) opt out."""
    from config.celery import app

    if request.node.get_closest_marker("broker"):
        yield
        return
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def make_source(db):
    """`make_source(preset="crm_events", **fields)` → (source, raw key), made through the service."""
    counter = iter(range(1, 10_000))

    def make(preset: str = "", brand=None, mapping=None, **fields):
        n = next(counter)
        slug = fields.pop("slug", f"src-{n}")
        return services.source_create(
            slug=slug, name=fields.pop("name", slug.title()), brand=brand or BrandFactory(), preset=preset,
            mapping=mapping, **fields,
        )  # fmt: skip

    return make


@pytest.fixture
def source_client(make_source):
    """`source_client(preset=…)` → (source, APIClient authenticated with the source's key)."""
    from rest_framework.test import APIClient

    def make(**kwargs):
        source, raw = make_source(**kwargs)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        client.raw_key = raw
        return source, client

    return make


@pytest.fixture
def fx_rates(db):
    """USD and GBP rates to EUR for every day of 2025-10 … 2026-12 used by the samples."""

    def make(currency: str, rate: str, first: dt.date, days: int):
        FxRate.objects.bulk_create(
            FxRate(currency=currency, date=first + dt.timedelta(days=i), rate=Decimal(rate)) for i in range(days)
        )

    make("USD", "0.9000000000", dt.date(2025, 10, 25), 10)
    make("USD", "0.9000000000", dt.date(2026, 11, 1), 30)
    make("GBP", "1.2000000000", dt.date(2026, 11, 1), 30)

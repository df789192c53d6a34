"""Test setup shared by every app.

Tasks run inline unless a test asks for a real broker; the cache is per process. Tests marked
`postgres` or `broker` skip where those services are missing, except in CI (CI=true), where a
missing service is a failure, never a skip.
"""

import os

os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
os.environ.setdefault("CACHE_URL", "locmemcache://")
os.environ.setdefault("WEBHOOKS_ALLOW_PRIVATE_TARGETS", "0")

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    has_redis = bool(os.environ.get("REDIS_URL"))
    for item in items:
        if item.get_closest_marker("postgres") and not on_postgres:
            if IN_CI:
                item.add_marker(pytest.mark.usefixtures("_fail_missing_postgres"))
            else:
                item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)"))
        if item.get_closest_marker("broker") and not has_redis:
            if IN_CI:
                item.add_marker(pytest.mark.usefixtures("_fail_missing_redis"))
            else:
                item.add_marker(pytest.mark.skip(reason="needs Redis (set REDIS_URL)"))
        if item.get_closest_marker("browser") and not os.path.exists("/usr/bin/chromium"):
            if IN_CI:
                item.add_marker(pytest.mark.usefixtures("_fail_missing_chromium"))
            else:
                item.add_marker(pytest.mark.skip(reason="needs Chromium (apt-get install chromium)"))


@pytest.fixture
def _fail_missing_postgres():
    pytest.fail("CI runs this test on PostgreSQL; DATABASE_URL does not point at PostgreSQL")


@pytest.fixture
def _fail_missing_chromium():
    pytest.fail("CI runs the browser tests; /usr/bin/chromium is missing")


@pytest.fixture
def _fail_missing_redis():
    pytest.fail("CI runs this test against Redis; REDIS_URL is not set")


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    from core.keys import cache_clear

    cache_clear()
    yield
    cache_clear()


@pytest.fixture
def api():
    """An API client factory: `api("management")`, `api("partner", affiliate=a)`, `api("source", source=s)`."""
    from rest_framework.test import APIClient

    from core.keys import api_key_create

    def make(scope: str = "management", **subject) -> APIClient:
        _, raw = api_key_create(name=f"test {scope}", scope=scope, **subject)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        client.raw_key = raw
        return client

    return make


@pytest.fixture
def mgmt(api, db):
    return api("management")


@pytest.fixture
def broker():
    """The real Redis broker of REDIS_URL, emptied before and after, with tasks no longer inline.
    Yields the Redis client of that broker, with the broker URL as `.url`."""
    import redis

    from config.celery import app
    from core.testing import use_broker

    url = os.environ["REDIS_URL"]
    client = redis.Redis.from_url(url)
    client.url = url
    client.flushdb()
    saved = app.conf.broker_url, app.conf.task_always_eager
    app.conf.task_always_eager = False
    use_broker(url)
    yield client
    app.conf.task_always_eager = saved[1]
    use_broker(saved[0])
    client.flushdb()


@pytest.fixture
def inline_ingestion():
    """Tasks inline and errors raised, with the ingestion's per-process source cache empty before and after:
    for tests that send real postbacks and events and read what processing made of them."""
    from config.celery import app
    from integrations.ingestion import source_runtime_forget

    source_runtime_forget()
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved
    source_runtime_forget()

"""The per-source rate limit on a Redis cache: one shared counter per minute, counted in one round trip."""

import os

import pytest
from django.core.cache import caches
from django.test import override_settings

from integrations import ingestion
from integrations.ingestion import rate_limit_retry_after, source_runtime
from integrations.tests.factories import SourceFactory

pytestmark = [pytest.mark.django_db, pytest.mark.broker]


@pytest.fixture
def redis_cache():
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    backend = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    ingestion._redis.clear()
    with override_settings(CACHES=backend):  # Django swaps the cache handlers on this setting change
        yield caches["default"]
    ingestion._redis.clear()


def test_counts_shared_events_and_answers_retry_after_past_the_limit(redis_cache):
    # Given a source allowed 5 events a minute, on a Redis cache
    source = SourceFactory(rate_limit_per_minute=5)
    runtime = source_runtime(source_id=source.pk)
    ingestion._redis.clear()
    # When 3, then 2, then 1 more events are counted
    first, second, third = (rate_limit_retry_after(runtime=runtime, count=n) for n in (3, 2, 1))
    # Then the first 5 pass and the sixth waits for the next minute, and the counter expires on its own
    assert (first, second) == (0, 0)
    assert 1 <= third <= 61
    assert ingestion._redis_client() is not None
    keys = list(ingestion._redis_client().scan_iter(match=f"*ingest-rate:{source.pk}:*"))
    assert len(keys) == 1 and 0 < ingestion._redis_client().ttl(keys[0]) <= 70
    assert int(ingestion._redis_client().get(keys[0])) == 6
    ingestion._redis_client().delete(*keys)

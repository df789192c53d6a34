"""The per-source rate limit on a Redis cache: one shared counter per minute, reserved by processes in blocks."""

import datetime as dt
import os

import pytest
import time_machine
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
    ingestion.rate_limit_forget()
    with override_settings(CACHES=backend):  # Django swaps the cache handlers on this setting change
        client = ingestion._redis_client()
        stale = list(client.scan_iter(match="*ingest-rate:*"))  # source ids repeat from one run to the next
        if stale:
            client.delete(*stale)
        yield caches["default"]
    ingestion._redis.clear()
    ingestion.rate_limit_forget()


def counter_keys(source_id: int) -> list:
    return list(ingestion._redis_client().scan_iter(match=f"*ingest-rate:{source_id}:*"))


@time_machine.travel(dt.datetime(2026, 11, 28, 10, 0, 5, tzinfo=dt.UTC), tick=False)
def test_counts_shared_events_and_answers_retry_after_past_the_limit(redis_cache):
    # Given a source allowed 5 events a minute, on a Redis cache
    source = SourceFactory(rate_limit_per_minute=5)
    runtime = source_runtime(source_id=source.pk)
    # When 3, then 2, then 1 more events are counted
    first, second, third = (rate_limit_retry_after(runtime=runtime, count=n) for n in (3, 2, 1))
    # Then the first 5 pass and the sixth waits for the next minute, and the counter expires on its own
    assert (first, second, third) == (0, 0, 56)
    assert ingestion._redis_client() is not None
    [key] = counter_keys(source.pk)
    assert 0 < ingestion._redis_client().ttl(key) <= 70
    assert int(ingestion._redis_client().get(key)) == 5


@time_machine.travel(dt.datetime(2026, 11, 28, 10, 0, 5, tzinfo=dt.UTC), tick=False)
def test_processes_sharing_the_counter_admit_the_limit_and_no_more(redis_cache, monkeypatch):
    # Given a source allowed 300 events a minute and two processes taking them in turn
    source = SourceFactory(rate_limit_per_minute=300)
    runtime = source_runtime(source_id=source.pk)
    states = [{}, {}]
    # When 400 events come
    admitted = 0
    for n in range(400):
        monkeypatch.setattr(ingestion, "_allotments", states[n % 2])
        admitted += not rate_limit_retry_after(runtime=runtime)
    # Then 300 were admitted; the counter went past 300 only by the one ask of each process that learnt so
    assert admitted == 300
    [key] = counter_keys(source.pk)
    assert 300 <= int(ingestion._redis_client().get(key)) <= 302

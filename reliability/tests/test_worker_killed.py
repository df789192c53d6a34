"""A Celery worker killed with SIGKILL in the middle of a batch: nothing is lost or counted twice; beat's sweep
hands what the dead worker had claimed to the next worker."""

import time

import pytest

from affiliates.tests.factories import BrandFactory
from core.keys import api_key_create
from integrations.models import InboundEvent, InboundStatus
from integrations.tests.factories import SourceFactory
from reliability.processes import call, wait_until
from tracking.models import ConversionEvent

pytestmark = [pytest.mark.postgres, pytest.mark.broker, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

BATCHES, PER_BATCH = 6, 1000


def _batch(n: int) -> dict:
    return {
        "events": [
            {"event_id": f"kill-{n}-{i}", "type": "deposit", "customer_id": f"c-{n}-{i % 200}", "amount": "25.00",
             "currency": "EUR", "occurred_at": "2026-11-28T10:00:00+00:00"}
            for i in range(PER_BATCH)
        ]
    }  # fmt: skip


def test_a_worker_killed_mid_batch_loses_nothing_and_counts_nothing_twice(deployment, database_url, private_redis):
    source = SourceFactory(brand=BrandFactory(), rate_limit_per_minute=1_000_000)
    _, key = api_key_create(name="crm", scope="source", source=source)
    deployment.configure(
        database_url=database_url, redis_url=private_redis.url,
        INGEST_SWEEP_INTERVAL_SECONDS="2", INGEST_SWEEP_GRACE_SECONDS="3",
    )  # fmt: skip
    web = deployment.gunicorn()
    # An ingestion worker (README: a worker may serve any subset of the queues). The commission engine's
    # queue is left to fill: it is not what this test breaks.
    first = deployment.worker("w1", queues="ingest")
    for n in range(BATCHES):
        status, _, body = call("POST", f"{web.url}/api/v1/events", key=key, body=_batch(n), timeout=60)
        assert status == 202, body
        assert {r["status"] for r in body["results"]} == {"accepted"}
    stored = InboundEvent.objects.filter(source=source)
    total = BATCHES * PER_BATCH

    # when the worker dies in the middle of the batches (some processed, the rest claimed or queued)
    assert wait_until(lambda: stored.filter(status=InboundStatus.PROCESSED).exists(), 60), deployment.logs()
    time.sleep(0.2)
    first.kill()
    done_before = stored.filter(status=InboundStatus.PROCESSED).count()
    assert 0 < done_before < total, done_before
    assert not stored.exclude(status__in=[InboundStatus.PROCESSED, InboundStatus.RECEIVED]).exists()

    # then a new worker and beat's sweep process the rest: every event once
    deployment.worker("w2", queues="ingest")
    deployment.beat()
    assert wait_until(lambda: not stored.filter(status=InboundStatus.RECEIVED).exists(), 90), deployment.logs()
    print(f"processed before the kill: {done_before} of {total}")
    assert stored.filter(status=InboundStatus.PROCESSED).count() == total
    events = ConversionEvent.objects.filter(source=source)
    assert events.count() == total
    assert events.values("external_id").distinct().count() == total
    # every inbound event points at its own canonical event: none half-written
    assert events.filter(inbound__status=InboundStatus.PROCESSED).count() == total

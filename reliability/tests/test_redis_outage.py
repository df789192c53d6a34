"""Redis (broker and cache) stopped for 10 s during a stream of postbacks: every postback is accepted or
answered 503, none is lost, all are processed once Redis is back, none twice."""

import time

import pytest

from affiliates.tests.factories import BrandFactory
from core.keys import api_key_create
from integrations.models import InboundEvent, InboundStatus
from integrations.tests.factories import SourceFactory
from reliability.processes import wait_until
from tracking.models import ConversionEvent

from .streams import PostbackStream

pytestmark = [pytest.mark.postgres, pytest.mark.broker, pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_postbacks_during_a_redis_outage_are_all_stored_and_processed_once(deployment, database_url, private_redis):
    source = SourceFactory(brand=BrandFactory(), rate_limit_per_minute=100_000)
    _, key = api_key_create(name="crm", scope="source", source=source)
    deployment.configure(
        database_url=database_url, redis_url=private_redis.url,
        INGEST_SWEEP_INTERVAL_SECONDS="2", INGEST_SWEEP_GRACE_SECONDS="3",
    )  # fmt: skip
    web = deployment.gunicorn()
    deployment.worker()
    deployment.beat()

    stream = PostbackStream(web.url, source.slug, key, prefix="redis").start()
    time.sleep(4)
    private_redis.stop()  # broker and cache gone, queued messages with it
    time.sleep(10)
    private_redis.start()  # an empty Redis on the same port
    time.sleep(4)
    stream.stop()

    print(f"postbacks: {len(stream.sent)}, answers: {dict(stream.answers)}")
    # then every postback was answered 202/200, or 503 and accepted when sent again; nothing else
    assert stream.unexpected == []
    assert set(stream.accepted) == set(stream.sent)
    assert set(stream.answers) <= {200, 202, 503}, stream.answers
    # and every event is processed (the lost hand-overs by beat's sweep), each exactly once
    assert wait_until(
        lambda: not InboundEvent.objects.filter(source=source, status=InboundStatus.RECEIVED).exists(), 60
    ), deployment.logs()
    events = ConversionEvent.objects.filter(source=source)
    assert sorted(events.values_list("external_id", flat=True)) == sorted(stream.sent)
    stored = InboundEvent.objects.filter(source=source)
    assert stored.filter(status=InboundStatus.PROCESSED).count() == len(stream.sent)
    assert not stored.exclude(status__in=[InboundStatus.PROCESSED, InboundStatus.DUPLICATE]).exists()

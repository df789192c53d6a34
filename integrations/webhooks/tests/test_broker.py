"""A real Celery worker on a real Redis broker: deliveries lost with a broker restart are sent by the sweep."""

import datetime as dt
import os
import threading

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from config.celery import app
from integrations.webhooks.choices import DeliveryStatus
from integrations.webhooks.models import Delivery, OutboxEvent
from integrations.webhooks.outbox import outbox_publish
from integrations.webhooks.tasks import webhooks_sweep

from .factories import WebhookEndpointFactory

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def _use_broker(url: str) -> None:
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


def _wait_for(condition, seconds: float = 30.0) -> bool:
    pause = threading.Event()
    for _ in range(int(seconds / 0.1)):
        if condition():
            return True
        pause.wait(0.1)
    return condition()


@pytest.fixture
def broker():
    import redis

    url = os.environ["REDIS_URL"]
    client = redis.Redis.from_url(url)
    client.flushdb()
    saved = app.conf.broker_url, app.conf.task_always_eager
    app.conf.task_always_eager = False
    _use_broker(url)
    yield client
    app.conf.task_always_eager = saved[1]
    _use_broker(saved[0])
    client.flushdb()


def test_deliveries_in_flight_when_the_broker_restarts_are_sent_by_the_sweep(broker, receiver):
    endpoint = WebhookEndpointFactory(url=receiver.url())
    # given three committed events whose hand-over messages sit in the broker
    with transaction.atomic():
        for n in range(3):
            outbox_publish(type="commission.approved", data={"id": n}, affiliate_id=1)
    assert broker.llen("delivery") >= 1
    # when the broker restarts without its queued messages
    broker.flushdb()
    assert receiver.requests == []

    with start_worker(app, queues=["delivery"], pool="solo", perform_ping_check=False, shutdown_timeout=30):
        with time_machine.travel(timezone.now() + dt.timedelta(minutes=1), tick=True):
            webhooks_sweep.delay()
            delivered = _wait_for(
                lambda: (
                    Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 3
                    and not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists()
                )
            )
            # then every event reached the endpoint once, signed
            assert delivered
            assert len(receiver.requests) == 3
            assert all(Webhook(endpoint.secret).verify(r.body, r.headers) for r in receiver.requests)
        # and a new event now goes through the queue to the worker directly
        with transaction.atomic():
            outbox_publish(type="commission.approved", data={"id": 9}, affiliate_id=1)
        assert _wait_for(lambda: len(receiver.requests) == 4)
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 4

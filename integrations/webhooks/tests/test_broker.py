"""A real Celery worker on a real Redis broker: deliveries lost with a broker restart are sent by the sweep."""

import datetime as dt

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from config.celery import app
from core.testing import wait_for
from integrations.webhooks.choices import DeliveryStatus
from integrations.webhooks.models import Delivery, OutboxEvent
from integrations.webhooks.outbox import outbox_publish
from integrations.webhooks.tasks import webhooks_sweep

from .factories import WebhookEndpointFactory

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


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
            delivered = wait_for(
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
        assert wait_for(lambda: len(receiver.requests) == 4)
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 4

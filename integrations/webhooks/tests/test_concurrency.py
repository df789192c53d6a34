"""Two workers given the same deliveries at once send each one once (the claim is a compare-and-swap)."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from integrations.webhooks.choices import DeliveryStatus
from integrations.webhooks.delivery import deliveries_run
from integrations.webhooks.models import Delivery, DeliveryAttempt
from integrations.webhooks.outbox import outbox_dispatch

from .factories import OutboxEventFactory, WebhookEndpointFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_send_each_delivery_once(receiver):
    endpoint = WebhookEndpointFactory(url=receiver.url())
    events = [OutboxEventFactory(created_at=timezone.now()) for _ in range(20)]
    ids = outbox_dispatch(event_ids=[e.pk for e in events])
    barrier = threading.Barrier(3)

    def worker():
        barrier.wait()
        try:
            deliveries_run(delivery_ids=ids)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    failed = list(DeliveryAttempt.objects.filter(success=False).values_list("error", "response_status"))
    assert len(receiver.requests) == 20, failed
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 20
    assert Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.SUCCEEDED, attempts=1).count() == 20


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatch_of_the_same_events_creates_deliveries_once(receiver):
    WebhookEndpointFactory(url=receiver.url())
    events = [OutboxEventFactory() for _ in range(30)]
    results, barrier = [], threading.Barrier(3)

    def dispatcher():
        barrier.wait()
        try:
            results.append(outbox_dispatch(event_ids=[e.pk for e in events]))
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Delivery.objects.count() == 30
    assert sorted(i for ids in results for i in ids) == sorted(Delivery.objects.values_list("pk", flat=True))

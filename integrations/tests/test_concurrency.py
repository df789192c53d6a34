"""Concurrent duplicates make one event (PostgreSQL: real row locks and unique-constraint waits)."""

import json
import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from integrations.ingestion import inbound_process
from integrations.models import InboundEvent, InboundStatus
from tracking.models import ConversionEvent, Customer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 8
EVENT = {"type": "deposit", "event_id": "D-1", "customer_id": "C-1", "amount": "50.00", "currency": "EUR",
         "occurred_at": "2026-11-01T10:00:00Z"}  # fmt: skip


def run_together(work):
    barrier = threading.Barrier(THREADS)
    results, errors = [None] * THREADS, []

    def runner(index):
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except Exception as exc:  # a failure in a thread must fail the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_the_same_event_sent_at_once_by_many_requests_makes_one_event(source_client):
    source, client = source_client()
    key = client.raw_key

    def send(_index):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        response = api.post("/api/v1/events", json.dumps(EVENT), content_type="application/json")
        assert response.status_code == 202
        return response.json()["results"][0]["status"]

    statuses = run_together(send)
    assert set(statuses) <= {"accepted", "duplicate"} and "accepted" in statuses
    assert ConversionEvent.objects.filter(source=source).count() == 1
    assert Customer.objects.filter(external_id="C-1").count() == 1
    stored = list(InboundEvent.objects.filter(source=source).values_list("status", flat=True))
    assert len(stored) == THREADS  # every request stored
    assert stored.count(InboundStatus.PROCESSED) == 1
    assert stored.count(InboundStatus.DUPLICATE) == THREADS - 1


def test_rows_with_one_event_id_processed_by_concurrent_workers_make_one_event(source_client):
    source, _client = source_client()
    from django.utils import timezone

    rows = InboundEvent.objects.bulk_create(
        InboundEvent(source=source, received_at=timezone.now(), channel="api", payload=EVENT, external_id="D-1")
        for _ in range(THREADS)
    )
    ids = [row.pk for row in rows]
    # each worker gets every row (a redelivered task, a sweep and the task itself at once)
    outcomes = run_together(lambda index: inbound_process(inbound_ids=ids[index:] + ids[:index], remap=True))
    assert ConversionEvent.objects.filter(source=source).count() == 1
    final = dict(InboundEvent.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert list(final.values()).count(InboundStatus.PROCESSED) == 1
    assert list(final.values()).count(InboundStatus.DUPLICATE) == THREADS - 1
    claimed = [pk for outcome in outcomes for pk in outcome]
    assert sorted(claimed) == sorted(ids)  # each row was processed by exactly one worker

"""A real Celery worker on a real Redis broker: what is accepted while the broker is unreachable is
processed later by the sweep; nothing accepted is lost, nothing is counted twice."""

import datetime as dt
import json

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from django.test import Client
from django.utils import timezone

from config.celery import app
from core.testing import use_broker, wait_for
from integrations.models import InboundEvent, InboundStatus
from integrations.tasks import ingest_sweep
from tracking.models import ConversionEvent

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]

UNREACHABLE = "redis://127.0.0.1:1/0"


def _post(client, key, event):
    return client.post(
        "/api/v1/events", json.dumps(event), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )


def _event(n):
    return {"type": "deposit", "event_id": f"D{n}", "customer_id": "C1", "amount": "10.00", "currency": "EUR",
            "occurred_at": "2026-11-01T10:00:00Z"}  # fmt: skip


def test_events_accepted_with_the_broker_down_are_processed_by_the_sweep_on_a_real_worker(broker, make_source):
    source, key = make_source()
    client = Client()
    # given the broker is unreachable: requests are still accepted and stored
    use_broker(UNREACHABLE)
    answers = [_post(client, key, _event(n)) for n in range(5)]
    assert [a.status_code for a in answers] == [202] * 5
    assert InboundEvent.objects.filter(source=source, status=InboundStatus.RECEIVED).count() == 5
    assert not ConversionEvent.objects.exists()
    # a duplicate sent meanwhile is answered as such and stored, not queued
    assert _post(client, key, _event(0)).json()["results"][0]["status"] == "duplicate"

    # when the broker is back and the periodic sweep runs on a real worker
    use_broker(broker.url)
    with start_worker(app, queues=["ingest"], pool="solo", perform_ping_check=False, shutdown_timeout=30):
        with time_machine.travel(timezone.now() + dt.timedelta(minutes=2), tick=True):
            ingest_sweep.delay()
            processed = wait_for(lambda: ConversionEvent.objects.filter(source=source).count() == 5)
        # then every accepted event became exactly one canonical event
        assert processed
        assert InboundEvent.objects.filter(source=source, status=InboundStatus.PROCESSED).count() == 5
        # and events sent now go straight through the queue to the worker
        assert _post(client, key, _event(9)).status_code == 202
        assert wait_for(lambda: ConversionEvent.objects.filter(source=source, external_id="D9").exists())
        # a second sweep finds nothing left and changes nothing
        ingest_sweep.delay()
        assert wait_for(lambda: not InboundEvent.objects.filter(status=InboundStatus.RECEIVED).exists())
    assert ConversionEvent.objects.filter(source=source).count() == 6

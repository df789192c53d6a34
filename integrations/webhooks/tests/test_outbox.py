"""The outbox: written with the change, delivered after commit, never for a rollback, never lost."""

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from integrations.webhooks.choices import DeliveryStatus
from integrations.webhooks.delivery import deliveries_run
from integrations.webhooks.models import Delivery, OutboxEvent
from integrations.webhooks.outbox import (
    outbox_collect,
    outbox_dispatch,
    outbox_publish,
    outbox_publish_many,
    outbox_sweep,
)
from integrations.webhooks.tasks import webhooks_deliver, webhooks_dispatch

from .factories import OutboxEventFactory, WebhookEndpointFactory


class Boom(Exception):
    pass


@pytest.mark.django_db
def test_nothing_is_recorded_or_delivered_for_a_rolled_back_change(receiver, django_capture_on_commit_callbacks):
    WebhookEndpointFactory(url=receiver.url())

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Boom), transaction.atomic():
        outbox_publish(type="affiliate.created", data={"id": 1})
        raise Boom

    assert not OutboxEvent.objects.exists()
    assert not Delivery.objects.exists()
    assert receiver.requests == []


@pytest.mark.django_db(transaction=True)
def test_real_rollback_announces_nothing_and_real_commit_announces_once(receiver):
    WebhookEndpointFactory(url=receiver.url())

    with pytest.raises(Boom), transaction.atomic():
        outbox_publish(type="affiliate.created", data={"id": 1})
        raise Boom
    with transaction.atomic():
        outbox_publish(type="affiliate.created", data={"id": 2})
        outbox_publish(type="affiliate.status_changed", data={"id": 2})
        assert receiver.requests == []  # nothing leaves before the commit

    assert sorted(r.headers["webhook-id"] for r in receiver.requests) == sorted(
        Delivery.objects.values_list("message_id", flat=True)
    )
    assert OutboxEvent.objects.count() == 2
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 2


@pytest.mark.django_db
def test_events_of_one_transaction_are_handed_over_in_one_dispatch(receiver, django_capture_on_commit_callbacks):
    WebhookEndpointFactory(url=receiver.url())

    with (
        mock.patch.object(webhooks_dispatch, "apply_async", wraps=webhooks_dispatch.apply_async) as hand_over,
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        for n in range(5):
            outbox_publish(type="affiliate.created", data={"id": n})

    assert hand_over.call_count == 1
    assert len(receiver.requests) == 5


def _rows():
    return list(OutboxEvent.objects.order_by("pk").values_list("type", "data", "affiliate_id", "brand_id"))


ITEMS = [
    {"type": "conversion.created", "data": {"id": 1, "amount": "10.50"}, "affiliate_id": 7, "brand_id": 3},
    {"type": "customer.attributed", "data": {"customer": 2}, "affiliate_id": None, "brand_id": 3},
    {"type": "affiliate.created", "data": {"id": 9}},
]


@pytest.mark.django_db
def test_publishing_many_writes_the_same_rows_as_one_by_one_with_one_insert(
    django_capture_on_commit_callbacks, django_assert_num_queries
):
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        for item in ITEMS:
            outbox_publish(**item)
    one_by_one = _rows()
    OutboxEvent.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=False), transaction.atomic(), django_assert_num_queries(1):
        outbox_publish_many(items=ITEMS)

    assert _rows() == one_by_one
    assert one_by_one[0] == ("conversion.created", {"id": 1, "amount": "10.50"}, 7, 3)
    assert one_by_one[2] == ("affiliate.created", {"id": 9}, None, None)


@pytest.mark.django_db
def test_publishing_many_hands_everything_over_in_one_dispatch_with_the_transactions_other_events(
    receiver, django_capture_on_commit_callbacks
):
    WebhookEndpointFactory(url=receiver.url())

    with (
        mock.patch.object(webhooks_dispatch, "apply_async", wraps=webhooks_dispatch.apply_async) as hand_over,
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        outbox_publish(type="affiliate.created", data={"id": 0})
        outbox_publish_many(items=ITEMS)
        outbox_publish_many(items=[])

    assert hand_over.call_count == 1
    assert hand_over.call_args.kwargs["args"][0] == list(
        OutboxEvent.objects.order_by("pk").values_list("pk", flat=True)
    )
    assert len(receiver.requests) == 4
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 4


@pytest.mark.django_db
def test_publishing_many_in_a_rolled_back_transaction_records_and_delivers_nothing(
    receiver, django_capture_on_commit_callbacks
):
    WebhookEndpointFactory(url=receiver.url())

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Boom), transaction.atomic():
        outbox_publish_many(items=ITEMS)
        raise Boom

    assert not OutboxEvent.objects.exists()
    assert not Delivery.objects.exists()
    assert receiver.requests == []


@pytest.mark.django_db
def test_collected_announcements_are_written_with_one_insert_when_the_block_ends(
    django_capture_on_commit_callbacks, django_assert_num_queries
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        with outbox_collect():
            with django_assert_num_queries(0):
                for item in ITEMS:
                    outbox_publish(**item)
            assert not OutboxEvent.objects.exists()  # written when the block ends, still in the transaction
        assert _rows() == [(i["type"], i["data"], i.get("affiliate_id"), i.get("brand_id")) for i in ITEMS]

    assert len(callbacks) == 1


@pytest.mark.django_db
def test_collecting_block_that_raises_writes_nothing_it_collected(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        outbox_publish(type="affiliate.created", data={"id": 0})
        with pytest.raises(Boom), outbox_collect():
            outbox_publish(type="affiliate.created", data={"id": 1})
            raise Boom
        outbox_publish(type="affiliate.created", data={"id": 2})

    assert [row[1]["id"] for row in _rows()] == [0, 2]


@pytest.mark.django_db
def test_an_announcement_in_a_rolled_back_savepoint_inside_a_collecting_block_is_not_kept(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic(), outbox_collect():
        outbox_publish(type="affiliate.created", data={"id": 1})
        with pytest.raises(Boom), transaction.atomic():
            outbox_publish(type="affiliate.created", data={"id": 2})
            raise Boom
        outbox_publish(type="affiliate.created", data={"id": 3})

    assert [row[1]["id"] for row in _rows()] == [1, 3]


@pytest.mark.django_db(transaction=True)
def test_collecting_outside_a_transaction_writes_each_announcement_at_once():
    with outbox_collect():
        outbox_publish(type="affiliate.created", data={"id": 1})
        assert OutboxEvent.objects.count() == 1


@pytest.mark.django_db
def test_broker_down_at_commit_loses_nothing_the_sweep_delivers_it(receiver, run_on_commit):
    WebhookEndpointFactory(url=receiver.url())
    with mock.patch.object(webhooks_dispatch, "apply_async", side_effect=OperationalError("broker down")):
        run_on_commit(outbox_publish, type="affiliate.created", data={"id": 1})
    event = OutboxEvent.objects.get()
    assert event.dispatched_at is None
    assert receiver.requests == []

    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        swept = run_on_commit(outbox_sweep)

    assert swept["events"] == 1
    assert len(receiver.requests) == 1
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED


@pytest.mark.django_db
def test_deliveries_enqueued_but_lost_with_the_broker_are_sent_by_the_sweep(receiver, run_on_commit):
    WebhookEndpointFactory(url=receiver.url())
    with mock.patch.object(webhooks_deliver, "apply_async", side_effect=OperationalError("broker restarted")):
        run_on_commit(outbox_publish, type="affiliate.created", data={"id": 1})
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)

    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        run_on_commit(outbox_sweep)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 1)
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_a_delivery_whose_worker_died_mid_flight_is_sent_again_after_its_lease(receiver, run_on_commit):
    endpoint = WebhookEndpointFactory(url=receiver.url())
    event = OutboxEventFactory(dispatched_at=timezone.now())
    delivery = Delivery.objects.create(event=event, endpoint=endpoint, next_attempt_at=timezone.now())
    # A worker claimed it and died before recording anything.
    from integrations.webhooks import delivery as delivery_module

    with mock.patch.object(delivery_module, "_record", side_effect=SystemExit), pytest.raises(SystemExit):
        deliveries_run(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.claim is not None
    assert run_on_commit(outbox_sweep)["deliveries"] == 0  # the lease still holds

    with time_machine.travel(delivery.next_attempt_at + timedelta(minutes=1), tick=False):
        assert run_on_commit(outbox_sweep)["deliveries"] == 1

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert len(receiver.requests) == 2  # at least once: the receiver deduplicates by webhook-id
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]


@pytest.mark.django_db
def test_a_duplicate_delivery_task_sends_nothing_twice(receiver, run_on_commit):
    WebhookEndpointFactory(url=receiver.url())
    run_on_commit(outbox_publish, type="affiliate.created", data={"id": 1})
    delivery = Delivery.objects.get()

    assert deliveries_run(delivery_ids=[delivery.pk]) == {"sent": 0}

    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_dispatching_an_event_twice_creates_its_deliveries_once(receiver):
    WebhookEndpointFactory(url=receiver.url())
    WebhookEndpointFactory(url=receiver.url("/second"))
    event = OutboxEventFactory()

    first = outbox_dispatch(event_ids=[event.pk])
    second = outbox_dispatch(event_ids=[event.pk])

    assert len(first) == 2
    assert second == []
    assert Delivery.objects.filter(event=event).count() == 2


@pytest.mark.django_db
def test_publish_accepts_decimal_and_datetime_values(run_on_commit):
    from decimal import Decimal

    run_on_commit(outbox_publish, type="commission.created", data={"amount": Decimal("200.00"), "at": timezone.now()})

    assert OutboxEvent.objects.get().data["amount"] == "200.00"


@pytest.mark.django_db
def test_purge_forgets_finished_announcements_past_retention_and_keeps_the_rest(settings):
    settings.WEBHOOKS_RETENTION_DAYS = 30
    endpoint = WebhookEndpointFactory()
    long_ago = timezone.now() - timedelta(days=31)
    finished = OutboxEventFactory(created_at=long_ago, dispatched_at=long_ago)
    Delivery.objects.create(event=finished, endpoint=endpoint, status=DeliveryStatus.SUCCEEDED)
    still_retrying = OutboxEventFactory(created_at=long_ago, dispatched_at=long_ago)
    Delivery.objects.create(event=still_retrying, endpoint=endpoint, status=DeliveryStatus.PENDING)
    recent = OutboxEventFactory(dispatched_at=timezone.now())

    from integrations.webhooks.outbox import outbox_purge

    assert outbox_purge() == 1
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {still_retrying.pk, recent.pk}

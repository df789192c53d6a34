"""Delivery tasks (queue `delivery`). Arguments are ids; every task is safe to run twice."""

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from .delivery import deliveries_run
from .outbox import outbox_dispatch, outbox_purge, outbox_sweep

log = logging.getLogger(__name__)

_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def _chunks(ids: list[int], size: int):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _publish(task, ids: list[int], what: str, **options) -> None:
    """One message per batch of ids, all sent through one producer (a producer per message costs more than
    the message). A broker that is down loses nothing: the sweeps find what was not handed over."""
    chunks = list(_chunks(list(ids), settings.WEBHOOKS_BATCH_SIZE))
    if not chunks:
        return
    try:
        with task.app.producer_or_acquire() as producer:
            for chunk in chunks:
                try:
                    task.apply_async(args=[chunk], producer=producer, retry_policy=_PUBLISH_RETRY, **options)
                except Exception:
                    log.warning("%s %s… not handed over (broker unavailable); the sweep will", what, chunk[:3])
    except Exception:  # no producer at all (the broker is unreachable)
        log.warning("%s %s… not handed over (broker unavailable); the sweep will", what, chunks[0][:3])


def enqueue_dispatch(event_ids: list[int]) -> None:
    """Hand events to the dispatch task."""
    _publish(webhooks_dispatch, event_ids, "outbox events")


def enqueue_deliveries(delivery_ids: list[int], countdown: int | None = None) -> None:
    _publish(webhooks_deliver, delivery_ids, "deliveries", countdown=countdown)


@shared_task(acks_late=True, ignore_result=True)
def webhooks_dispatch(event_ids: list[int]) -> int:
    """Create the deliveries of these outbox events, then send them."""
    delivery_ids = outbox_dispatch(event_ids=event_ids)
    if delivery_ids:
        transaction.on_commit(lambda: enqueue_deliveries(delivery_ids))
    return len(delivery_ids)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=120, time_limit=150)
def webhooks_deliver(delivery_ids: list[int]) -> dict:
    """Send the due deliveries among these ids (a batch, concurrently)."""
    return deliveries_run(delivery_ids=delivery_ids)


@shared_task(ignore_result=True)
def webhooks_sweep() -> dict:
    """Periodic: dispatch events and send deliveries that the on-commit hand-over missed or that are due."""
    return outbox_sweep()


@shared_task(ignore_result=True)
def webhooks_purge() -> int:
    """Periodic: forget finished announcements past the retention period (WEBHOOKS_RETENTION_DAYS)."""
    return outbox_purge()

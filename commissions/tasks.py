"""Commission tasks. `process_event` is the entry point ingestion calls for every new or changed
canonical event (see tracking/events.py). Tasks take ids, re-read their rows and call one service."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError

from . import services

logger = logging.getLogger(__name__)


@shared_task(
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=120,
)
def process_event(event_id: int) -> None:
    """Compute (or re-evaluate) the commission entries that canonical event `event_id` produces."""
    services.commission_process_event(event_id=event_id)


@shared_task(bind=True, ignore_result=True, max_retries=5, soft_time_limit=600)
def process_events(self, event_ids: list[int]) -> None:
    """`process_event` for many events in one queue message (ingestion sends one per processed chunk).

    Each id runs the same service on its own, so one failing event does not hold back the others: a
    transient database error retries only the ids it hit (the time limit: those not reached yet), any
    other error is logged for that id alone.
    """
    transient: list[int] = []
    for index, event_id in enumerate(event_ids):
        try:
            services.commission_process_event(event_id=event_id)
        except OperationalError:
            transient.append(event_id)
        except SoftTimeLimitExceeded:
            transient.extend(event_ids[index:])
            break
        except Exception:
            logger.exception("commissions for event %s could not be computed", event_id)
    if transient:
        raise self.retry(args=[transient], countdown=min(600, 2 ** (self.request.retries + 1)))


@shared_task(ignore_result=True, soft_time_limit=600)
def release_holds() -> int:
    """Approve entries whose hold has passed (beat, hourly)."""
    return services.commission_release_holds()


@shared_task(ignore_result=True, soft_time_limit=3000)
def close_periods() -> int:
    """Book the month that ended last in each brand's time zone (beat, daily; idempotent)."""
    return services.commission_close_last_month()

"""Commission tasks. `process_event` is the entry point ingestion calls for every new or changed
canonical event (see tracking/events.py). Tasks take ids, re-read their rows and call one service."""

from celery import shared_task
from django.db import OperationalError

from . import services


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


@shared_task(ignore_result=True, soft_time_limit=600)
def release_holds() -> int:
    """Approve entries whose hold has passed (beat, hourly)."""
    return services.commission_release_holds()


@shared_task(ignore_result=True, soft_time_limit=3000)
def close_periods() -> int:
    """Book the month that ended last in each brand's time zone (beat, daily; idempotent)."""
    return services.commission_close_last_month()

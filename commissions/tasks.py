"""Commission tasks. `process_event` is the entry point ingestion calls for every new or changed
canonical event (see tracking/events.py)."""

from celery import shared_task


@shared_task(ignore_result=True)
def process_event(event_id: int) -> None:
    """Compute (or re-evaluate) the commission entries that canonical event `event_id` produces."""
    return None

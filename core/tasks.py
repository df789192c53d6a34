from celery import shared_task

from .health import record_heartbeat
from .idempotency import idempotency_purge


@shared_task(ignore_result=True)
def purge_idempotency_keys() -> int:
    return idempotency_purge()


@shared_task(ignore_result=True)
def worker_heartbeat() -> None:
    record_heartbeat()

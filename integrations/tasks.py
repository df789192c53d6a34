"""Ingestion tasks (queue `ingest`: every `integrations.tasks.ingest_*` is routed there).

Arguments are ids; a task re-reads its rows and skips what is already done, so a retry or a second
delivery changes nothing. Only transient database errors are retried."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import ingestion


@shared_task(
    name="integrations.tasks.ingest_process",
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=8,
    soft_time_limit=300,
    time_limit=360,
)
def ingest_process(inbound_ids: list[int]) -> None:
    """Turn stored inbound events into canonical events."""
    ingestion.inbound_process(inbound_ids=inbound_ids)


@shared_task(name="integrations.tasks.ingest_sweep", ignore_result=True, soft_time_limit=240, time_limit=300)
def ingest_sweep() -> int:
    """Process anything stored but not processed (lost task, broker outage). Runs every minute."""
    return ingestion.inbound_sweep()

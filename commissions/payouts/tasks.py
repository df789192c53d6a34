"""Payout tasks: beat draws up the statements of every period that has closed (idempotent: a second run
refreshes drafts with entries approved since, and leaves approved and paid statements alone)."""

import logging

from celery import shared_task
from django.db import OperationalError

from . import services

logger = logging.getLogger(__name__)


@shared_task(
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=3,
    soft_time_limit=3000,
)
def generate_closed_periods() -> int:
    """Statements for the month and week that ended last in each brand's time zone (beat, every 6 hours)."""
    result = services.statements_generate_closed()
    for skipped in result.skipped:
        logger.warning("payout statement for affiliate %s not drawn up: %s", skipped["affiliate"], skipped["message"])
    return result.created

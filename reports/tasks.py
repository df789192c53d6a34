"""Periodic upkeep of the report rollups (declared in CELERY_BEAT_SCHEDULE)."""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from . import upkeep

RECENT_DAYS = 2


@shared_task(soft_time_limit=50, time_limit=55)
def rollups_refresh() -> dict:
    """Roll up new clicks and rewrite every (affiliate, day) marked since the last run."""
    result = upkeep.rollups_refresh()
    return {"built": result.built, "pairs": result.pairs, "cohorts": result.cohorts, "rows": result.rows}


@shared_task(soft_time_limit=3000, time_limit=3300)
def rollups_rebuild_recent() -> int:
    """Rewrite yesterday and today from the raw rows: a safety net under the marks, cheap for two days."""
    if upkeep.state().covered_from is None:
        return 0
    today = timezone.now().astimezone(dt.UTC).date()
    return upkeep.rollups_rebuild(start=today - dt.timedelta(days=RECENT_DAYS - 1), end=today)

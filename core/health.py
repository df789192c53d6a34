"""Broker and worker checks for /healthz. Each part reports; none of them raises."""

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_CACHE_KEY = "health:worker-heartbeat"


def broker_status() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"status": "inline", "detail": "no broker configured; tasks run in the web process"}
    try:
        from config.celery import app

        with app.connection_for_write() as conn:
            # One quick retry, no back-off sleep: a health probe must answer fast when the broker is down.
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, interval_max=0, timeout=2)
        return {"status": "ok"}
    except Exception as exc:  # report, never raise
        return {"status": "down", "error": exc.__class__.__name__}


def worker_lag_seconds() -> dict:
    """Seconds since a worker last ran the heartbeat task (scheduled by beat every 30 s)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"status": "inline", "lag_seconds": 0}
    try:
        beat = cache.get(HEARTBEAT_CACHE_KEY)
    except Exception as exc:
        return {"status": "unknown", "error": exc.__class__.__name__}
    if beat is None:
        return {"status": "unknown", "lag_seconds": None}
    lag = (timezone.now() - beat).total_seconds()
    return {"status": "ok" if lag < 120 else "lagging", "lag_seconds": round(lag, 1)}


def record_heartbeat() -> None:
    cache.set(HEARTBEAT_CACHE_KEY, timezone.now(), timeout=3600)

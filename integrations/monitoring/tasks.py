"""Periodic monitoring work (declared in CELERY_BEAT_SCHEDULE). Thin: each task calls one service."""

from celery import shared_task

from integrations.models import Source

from . import golive, services


@shared_task(ignore_result=True, soft_time_limit=240, time_limit=270)
def evaluate_alerts() -> None:
    """Fan out one evaluation per active source, and check operator webhook endpoints."""
    for source_id in Source.objects.filter(is_active=True).values_list("pk", flat=True):
        # Expires under the beat interval, like the beat entry, so a backlog never stacks evaluations.
        evaluate_source_alerts.apply_async((source_id,), expires=4 * 60)
    services.alerts_evaluate_webhooks()


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=150)
def evaluate_source_alerts(source_id: int) -> None:
    source = Source.objects.filter(pk=source_id).first()
    if source is None:
        return
    services.alerts_evaluate_source(source=source)


@shared_task(ignore_result=True, soft_time_limit=150, time_limit=180)
def run_golive_checks(run_id: int) -> None:
    golive.golive_run_execute(run_id=run_id)

"""Writes of the monitoring app: opening and resolving alerts, tuning thresholds.

An alert opens once per condition (a partial unique index on its key), is announced with `alert.raised`
through the outbox in the same transaction and by e-mail to the managers after commit, and resolves itself
with `alert.resolved` when an evaluation no longer sees its condition.
"""

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.models import Source
from integrations.webhooks.outbox import outbox_publish

from .alerts import Condition, alert_key, source_conditions, webhook_conditions
from .models import Alert, AlertKind, AlertRule

logger = logging.getLogger(__name__)


def alert_payload(alert: Alert) -> dict:
    """The JSON-safe body of `alert.raised` / `alert.resolved`."""
    return {
        "id": alert.pk,
        "source": alert.source.slug if alert.source_id else None,
        "kind": alert.kind,
        "subject": alert.subject,
        "severity": alert.severity,
        "title": alert.title,
        "opened_at": alert.opened_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "details": alert.details,
    }


def manager_emails() -> list[str]:
    """Who hears about alerts: active staff users with an address, and settings.MANAGERS."""
    users = get_user_model().objects.filter(is_active=True, is_staff=True).exclude(email="")
    emails = {u.email for u in users} | {email for _, email in getattr(settings, "MANAGERS", [])}
    return sorted(emails)


def _mail(alert_id: int, verb: str) -> None:
    alert = Alert.objects.select_related("source").get(pk=alert_id)
    recipients = manager_emails()
    if not recipients:
        return
    lines = [alert.title, "", f"Kind: {alert.get_kind_display()}", f"Severity: {alert.severity}"]
    if alert.source_id:
        lines.append(f"Source: {alert.source.name} ({alert.source.slug})")
    lines += [f"Opened: {alert.opened_at:%Y-%m-%d %H:%M} UTC"]
    if alert.resolved_at:
        lines.append(f"Resolved: {alert.resolved_at:%Y-%m-%d %H:%M} UTC")
    lines += ["", f"{settings.PUBLIC_BASE_URL}/admin/monitoring/alert/{alert.pk}/change/"]
    try:
        send_mail(
            subject=f"[{alert.severity.upper()}] {verb}: {alert.title}"[:200],
            message="\n".join(lines),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    except OSError:
        # The alert is stored and on the dashboard; a mail server outage must not undo it.
        logger.exception("alert mail %s failed", alert.pk)


def alert_open(
    *, condition: Condition, source: Source | None, brand_id: int | None = None, now: dt.datetime
) -> tuple[Alert, bool]:
    """Open an alert for `condition`, or refresh the open one. Returns (alert, opened_now)."""
    key = alert_key(source_id=source.pk if source else None, kind=condition.kind, subject=condition.subject)
    brand_id = source.brand_id if source else brand_id
    existing = Alert.objects.filter(key=key, resolved_at__isnull=True).first()
    if existing is not None:
        # Still the same condition: keep its figures current (title, severity, details), announce nothing.
        Alert.objects.filter(pk=existing.pk).update(
            last_seen_at=now, details=condition.details, title=condition.title[:300], severity=condition.severity
        )
        return existing, False
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                key=key,
                source=source,
                brand_id=brand_id,
                kind=condition.kind,
                subject=condition.subject,
                severity=condition.severity,
                title=condition.title[:300],
                details=condition.details,
                opened_at=now,
                last_seen_at=now,
            )
            outbox_publish(type="alert.raised", data=alert_payload(alert), brand_id=brand_id)
    except IntegrityError:
        # Another evaluation opened it a moment ago: one open alert per condition, ever.
        return Alert.objects.get(key=key, resolved_at__isnull=True), False
    transaction.on_commit(lambda: _mail(alert.pk, "Alert"))
    return alert, True


def alert_resolve(*, alert: Alert, now: dt.datetime) -> bool:
    """Resolve an open alert; False when it was already resolved (nothing is announced twice)."""
    with transaction.atomic():
        if not Alert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(resolved_at=now):
            return False
        alert.resolved_at = now
        outbox_publish(type="alert.resolved", data=alert_payload(alert), brand_id=alert.brand_id)
    transaction.on_commit(lambda: _mail(alert.pk, "Resolved"))
    return True


def _reconcile(*, held: dict[str, tuple], open_qs, now: dt.datetime) -> dict:
    opened, resolved = [], []
    for _key, (condition, source, brand_id) in held.items():
        alert, new = alert_open(condition=condition, source=source, brand_id=brand_id, now=now)
        if new:
            opened.append(alert.pk)
    for alert in open_qs.exclude(key__in=list(held)).select_related("source"):
        if alert_resolve(alert=alert, now=now):
            resolved.append(alert.pk)
    return {"opened": opened, "resolved": resolved}


def alerts_evaluate_source(*, source: Source, now: dt.datetime | None = None) -> dict:
    """Open alerts for the conditions that hold for `source` and resolve those that cleared."""
    now = now or timezone.now()
    held = {
        alert_key(source_id=source.pk, kind=c.kind, subject=c.subject): (c, source, None)
        for c in source_conditions(source, now)
    }
    open_qs = Alert.objects.filter(source=source, resolved_at__isnull=True).exclude(kind=AlertKind.WEBHOOK_DISABLED)
    return _reconcile(held=held, open_qs=open_qs, now=now)


def alerts_evaluate_webhooks(*, now: dt.datetime | None = None) -> dict:
    """Open an alert per disabled operator webhook endpoint; resolve it once re-enabled (or deleted)."""
    now = now or timezone.now()
    held = {
        alert_key(source_id=None, kind=c.kind, subject=c.subject): (c, None, brand_id)
        for brand_id, c in webhook_conditions()
    }
    open_qs = Alert.objects.filter(kind=AlertKind.WEBHOOK_DISABLED, resolved_at__isnull=True)
    return _reconcile(held=held, open_qs=open_qs, now=now)


def alert_rule_update(*, source: Source, **thresholds) -> AlertRule:
    """Tune a source's thresholds (creating its rule from the defaults on first change)."""
    rule, _ = AlertRule.objects.get_or_create(source=source)
    for name, value in thresholds.items():
        setattr(rule, name, value)
    rule.full_clean()
    rule.save()
    return rule

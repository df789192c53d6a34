"""Reads for the admin dashboard and the per-source health page."""

import datetime as dt
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from commissions.choices import EntryStatus
from commissions.models import CommissionEntry
from integrations.models import InboundEvent, InboundStatus, Source
from tracking.choices import EventType
from tracking.models import Click, ConversionEvent

from . import metrics
from .alerts import rule_for
from .models import Alert, GoLiveRun, Severity

UTC = dt.UTC
ZERO = Decimal("0")


def open_alerts(*, source: Source | None = None, limit: int = 50) -> list[Alert]:
    qs = Alert.objects.filter(resolved_at__isnull=True).select_related("source")
    if source is not None:
        qs = qs.filter(source=source)
    order = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return sorted(qs[:limit], key=lambda a: (order.get(a.severity, 3), -a.opened_at.timestamp()))


def _commission_total(start: dt.datetime, end: dt.datetime) -> dict[str, Decimal]:
    """Commission earned by activity in [start, end), per currency: the ledger's sum (reversals are negative
    entries), rejected entries left out."""
    rows = (
        CommissionEntry.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        .exclude(status=EntryStatus.REJECTED)
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    return {r["currency"]: r["total"] or ZERO for r in rows}


def programme_figures(*, start: dt.datetime, end: dt.datetime) -> dict:
    """Clicks, registrations, FTDs, revenue and commission in [start, end). Test-mode events are counted apart."""
    events = ConversionEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    live = events.filter(is_test=False)
    agg = live.aggregate(
        registrations=Count("pk", filter=Q(type=EventType.REGISTRATION)),
        ftds=Count("pk", filter=Q(type=EventType.FTD)),
        deposits=Sum("amount_base", filter=Q(type__in=[EventType.FTD, EventType.DEPOSIT])),
        revenue=Sum("amount_base", filter=Q(type=EventType.REVENUE)),
    )
    return {
        "clicks": Click.objects.filter(created_at__gte=start, created_at__lt=end).count(),
        "registrations": agg["registrations"],
        "ftds": agg["ftds"],
        "deposits": agg["deposits"] or ZERO,
        "revenue": agg["revenue"] or ZERO,
        "commission": _commission_total(start, end),
        "test_events": events.filter(is_test=True).count(),
    }


def top_affiliates(*, start: dt.datetime, end: dt.datetime, limit: int = 10) -> list[dict]:
    rows = (
        ConversionEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end, is_test=False)
        .exclude(affiliate=None)
        .values("affiliate_id", "affiliate__name")
        .annotate(
            ftds=Count("pk", filter=Q(type=EventType.FTD)),
            registrations=Count("pk", filter=Q(type=EventType.REGISTRATION)),
            revenue=Sum("amount_base", filter=Q(type=EventType.REVENUE)),
        )
        .order_by("-ftds", "-revenue", "affiliate__name")[:limit]
    )
    return [r | {"revenue": r["revenue"] or ZERO} for r in rows]


def daily_series(*, end_day: dt.date, days: int = 30) -> dict:
    """Clicks, registrations and FTDs per UTC day for the `days` days up to `end_day`."""
    start_day = end_day - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(start_day, dt.time.min, tzinfo=UTC)
    end = dt.datetime.combine(end_day + dt.timedelta(days=1), dt.time.min, tzinfo=UTC)
    clicks = dict(
        Click.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values_list("day")
        .annotate(n=Count("pk"))
    )
    per_type = (
        ConversionEvent.objects.filter(
            occurred_at__gte=start,
            occurred_at__lt=end,
            is_test=False,
            type__in=[EventType.REGISTRATION, EventType.FTD],
        )
        .annotate(day=TruncDate("occurred_at", tzinfo=UTC))
        .values_list("day", "type")
        .annotate(n=Count("pk"))
    )
    counts = {(day, type_): n for day, type_, n in per_type}
    days_list = [start_day + dt.timedelta(days=i) for i in range(days)]
    return {
        "labels": [d.strftime("%d %b") for d in days_list],
        "clicks": [clicks.get(d, 0) for d in days_list],
        "registrations": [counts.get((d, EventType.REGISTRATION), 0) for d in days_list],
        "ftds": [counts.get((d, EventType.FTD), 0) for d in days_list],
    }


def sources_health(*, now: dt.datetime) -> list[dict]:
    """Every source with its state (ok / warning / critical from open alerts), last event and last 24 h."""
    since = now - dt.timedelta(hours=24)
    sources = list(Source.objects.select_related("brand").order_by("name"))
    by_source = {
        row["source_id"]: row
        for row in InboundEvent.objects.filter(received_at__gte=since)
        .values("source_id")
        .annotate(total=Count("pk"), rejected=Count("pk", filter=Q(status=InboundStatus.REJECTED)))
    }
    alerts: dict[int, list[Alert]] = {}
    for alert in Alert.objects.filter(resolved_at__isnull=True, source__isnull=False):
        alerts.setdefault(alert.source_id, []).append(alert)
    out = []
    for source in sources:
        stats = by_source.get(source.pk, {"total": 0, "rejected": 0})
        mine = alerts.get(source.pk, [])
        if any(a.severity == Severity.CRITICAL for a in mine):
            state = "critical"
        elif mine:
            state = "warning"
        elif not source.is_active:
            state = "inactive"
        else:
            state = "ok"
        share = (Decimal(stats["rejected"]) * 100 / stats["total"]).quantize(Decimal("0.1")) if stats["total"] else None
        out.append(
            {
                "source": source,
                "state": state,
                "open_alerts": len(mine),
                "last_event_at": metrics.last_event_at(source=source),
                "events_24h": stats["total"],
                "rejected_share_24h": share,
            }
        )
    return out


def source_health(*, source: Source, now: dt.datetime) -> dict:
    """Everything the per-source health page shows."""
    rule = rule_for(source)
    window = dt.timedelta(minutes=rule.window_minutes)
    day_ago = now - dt.timedelta(hours=24)
    volume = metrics.volume_with_baseline(source=source, now=now, hours=48, weeks=rule.baseline_weeks)
    expected = rule.expected_types or {}
    per_type = metrics.last_events_per_type(source=source)
    volumes = metrics.type_volume_with_baseline(source=source, now=now, weeks=rule.baseline_weeks)
    for row in per_type:
        row["expected_minutes"] = expected.get(row["type"])
        row |= volumes.get(row["type"], {"count_24h": 0, "baseline_24h": None})
    return {
        "source": source,
        "rule": rule,
        "rule_saved": rule.pk is not None,
        "last_event_at": metrics.last_event_at(source=source),
        "per_type": per_type,
        "missing_expected": sorted(set(expected) - {r["type"] for r in per_type}),
        "volume": volume,
        "rejected_24h": metrics.rejected_stats(source=source, since=day_ago, until=now),
        "rejected_window": metrics.rejected_stats(source=source, since=now - window, until=now),
        "unattributed_24h": metrics.unattributed_share(source=source, since=day_ago, until=now),
        "unknown_types": metrics.unknown_event_types(source=source, since=day_ago),
        "unknown_fields": metrics.unknown_fields(source=source, since=day_ago, until=now),
        "drift": metrics.schema_drift(source=source, now=now, window=window),
        "processing_lag": metrics.processing_lag(source=source, since=day_ago, now=now),
        "delivery_latency": metrics.delivery_latency(source=source, since=day_ago),
        "mapping_history": metrics.mapping_history(source=source),
        "open_alerts": open_alerts(source=source),
        "recent_alerts": list(Alert.objects.filter(source=source, resolved_at__isnull=False)[:10]),
        "golive": GoLiveRun.objects.filter(source=source).first(),
        "test_events_24h": ConversionEvent.objects.filter(
            source=source, is_test=True, received_at__gte=day_ago
        ).count(),
    }

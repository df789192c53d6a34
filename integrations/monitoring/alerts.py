"""Alert conditions: what is wrong with a source right now, judged against its own thresholds.

Each check returns the conditions that hold; the service opens an alert for a new condition and resolves
the open alerts whose condition no longer holds. Pure reads: nothing here writes.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Max

from integrations.models import Source
from tracking.models import ConversionEvent

from . import metrics
from .models import AlertKind, AlertRule, Severity


@dataclass(frozen=True)
class Condition:
    """One alert condition that holds now."""

    kind: str
    subject: str
    severity: str
    title: str
    details: dict = field(default_factory=dict, hash=False, compare=False)


def alert_key(*, source_id: int | None, kind: str, subject: str = "") -> str:
    return f"{source_id if source_id is not None else '-'}:{kind}:{subject}"[:255]


def rule_for(source: Source) -> AlertRule:
    """The source's tuned rule, or the defaults (unsaved) when the manager has tuned nothing."""
    try:
        return source.alert_rule
    except AlertRule.DoesNotExist:
        return AlertRule(source=source)


def _minutes(seconds: float) -> int:
    return int(seconds // 60)


def check_silence(source: Source, rule: AlertRule, now: dt.datetime) -> list[Condition]:
    out = []
    if rule.silence_minutes:
        last = metrics.last_event_at(source=source)
        # A source that never sent anything is not live yet: there is no flow to lose.
        if last is not None and now - last > dt.timedelta(minutes=rule.silence_minutes):
            out.append(
                Condition(
                    AlertKind.NO_EVENTS,
                    "",
                    Severity.CRITICAL,
                    f"{source.name}: no events for {_minutes((now - last).total_seconds())} minutes",
                    {"last_event_at": last.isoformat(), "threshold_minutes": rule.silence_minutes},
                )
            )
    expected = rule.expected_types or {}
    if expected:
        last_by_type = dict(
            ConversionEvent.objects.filter(source=source, type__in=list(expected))
            .values_list("type")
            .annotate(m=Max("received_at"))
        )
        for type_, minutes in sorted(expected.items()):
            if not minutes:
                continue
            last = last_by_type.get(type_)
            since = last or source.created_at
            if now - since > dt.timedelta(minutes=int(minutes)):
                out.append(
                    Condition(
                        AlertKind.NO_EVENTS,
                        type_,
                        Severity.WARNING,
                        f"{source.name}: no {type_} events for {_minutes((now - since).total_seconds())} minutes",
                        {
                            "event_type": type_,
                            "last_event_at": last.isoformat() if last else None,
                            "threshold_minutes": int(minutes),
                        },
                    )
                )
    return out


def check_volume(source: Source, rule: AlertRule, now: dt.datetime) -> list[Condition]:
    """Last completed hour against the same hour of week in previous weeks."""
    hour = metrics.hour_floor(now) - dt.timedelta(hours=1)
    baseline = metrics.baseline_for_hour(source=source, hour=hour, weeks=rule.baseline_weeks)
    if baseline is None or baseline < rule.volume_min_baseline:
        return []
    count = metrics.hourly_counts(source=source, start=hour, end=hour + dt.timedelta(hours=1))[hour]
    percent = (Decimal(count) * 100 / baseline).quantize(Decimal("0.1"))
    details = {"hour": hour.isoformat(), "count": count, "baseline": str(baseline), "percent": str(percent)}
    if rule.volume_drop_percent and percent < rule.volume_drop_percent:
        return [
            Condition(
                AlertKind.VOLUME_DROP,
                "",
                Severity.CRITICAL if count == 0 else Severity.WARNING,
                f"{source.name}: {count} events in the last hour, {percent}% of its baseline {baseline}",
                details | {"threshold_percent": rule.volume_drop_percent},
            )
        ]
    if rule.volume_spike_percent and percent > rule.volume_spike_percent:
        return [
            Condition(
                AlertKind.VOLUME_SPIKE,
                "",
                Severity.WARNING,
                f"{source.name}: {count} events in the last hour, {percent}% of its baseline {baseline}",
                details | {"threshold_percent": rule.volume_spike_percent},
            )
        ]
    return []


def check_rejected(source: Source, rule: AlertRule, now: dt.datetime) -> list[Condition]:
    stats = metrics.rejected_stats(source=source, since=now - dt.timedelta(minutes=rule.window_minutes), until=now)
    if stats["total"] < rule.rejected_min_events or stats["share"] <= rule.rejected_share_percent:
        return []
    return [
        Condition(
            AlertKind.REJECTED_SHARE,
            "",
            Severity.CRITICAL if stats["share"] >= 50 else Severity.WARNING,
            f"{source.name}: {stats['share']}% of {stats['total']} events rejected in {rule.window_minutes} minutes",
            {
                "total": stats["total"],
                "rejected": stats["rejected"],
                "share": str(stats["share"]),
                "threshold_percent": str(rule.rejected_share_percent),
                "reasons": {r["reason_code"] or "(none)": r["n"] for r in stats["reasons"]},
            },
        )
    ]


def check_unknown_types(source: Source, rule: AlertRule, now: dt.datetime) -> list[Condition]:
    if not rule.unknown_event_type:
        return []
    rows = metrics.unknown_event_types(source=source, since=now - dt.timedelta(minutes=rule.window_minutes))
    if not rows:
        return []
    total = sum(r["count"] for r in rows)
    return [
        Condition(
            AlertKind.UNKNOWN_EVENT_TYPE,
            "",
            Severity.WARNING,
            f"{source.name}: {total} events of an unknown type in {rule.window_minutes} minutes",
            {"count": total, "samples": [r["detail"][:200] for r in rows[:10]]},
        )
    ]


def check_schema(source: Source, rule: AlertRule, now: dt.datetime) -> list[Condition]:
    if not rule.schema_drift:
        return []
    changes = metrics.schema_drift(source=source, now=now, window=dt.timedelta(minutes=rule.window_minutes))
    out = []
    for change in changes:
        verb = {"new": "new field", "vanished": "vanished field", "type_changed": "value type changed in"}
        out.append(
            Condition(
                AlertKind.SCHEMA_DRIFT,
                f"{change['change']}:{change['field']}",
                Severity.CRITICAL if change["change"] != "new" else Severity.WARNING,
                f"{source.name}: {verb[change['change']]} {change['field']}",
                change,
            )
        )
    return out


def check_lag(source: Source, rule: AlertRule, now: dt.datetime) -> list[Condition]:
    out = []
    window_start = now - dt.timedelta(minutes=rule.window_minutes)
    if rule.processing_lag_seconds:
        lag = metrics.processing_lag(source=source, since=window_start, now=now)
        worst = max(v for v in (lag["p95"], lag["oldest_waiting"], 0) if v is not None)
        if worst > rule.processing_lag_seconds:
            out.append(
                Condition(
                    AlertKind.PROCESSING_LAG,
                    "",
                    Severity.CRITICAL if worst > 10 * rule.processing_lag_seconds else Severity.WARNING,
                    f"{source.name}: events wait {int(worst)} s to be processed",
                    dict(lag.items()) | {"threshold_seconds": rule.processing_lag_seconds},
                )
            )
    if rule.delivery_latency_seconds:
        lat = metrics.delivery_latency(source=source, since=window_start)
        if lat["p95"] is not None and lat["p95"] > rule.delivery_latency_seconds:
            out.append(
                Condition(
                    AlertKind.DELIVERY_LATENCY,
                    "",
                    Severity.WARNING,
                    f"{source.name}: events arrive {int(lat['p95'])} s after they happened (p95)",
                    lat | {"threshold_seconds": rule.delivery_latency_seconds},
                )
            )
    return out


UNATTRIBUTED_WINDOW = dt.timedelta(hours=24)
UNATTRIBUTED_BASELINE = dt.timedelta(days=7)


def check_unattributed(source: Source, rule: AlertRule, now: dt.datetime) -> list[Condition]:
    """The share of customers with hints credited to nobody over the last 24 hours, against the same share
    over the 7 days before (a source with no such history is judged against 0%)."""
    if not rule.unattributed_rise_points:
        return []
    window_start = now - UNATTRIBUTED_WINDOW
    current = metrics.unattributed_share(source=source, since=window_start, until=now)
    if current["customers"] < rule.unattributed_min_customers:
        return []
    baseline = metrics.unattributed_share(source=source, since=window_start - UNATTRIBUTED_BASELINE, until=window_start)
    rise = current["share"] - baseline["share"]
    if rise <= rule.unattributed_rise_points:
        return []
    top = sorted(current["reasons"].items(), key=lambda item: (-item[1], item[0]))
    why = f" (mostly {top[0][0]})" if top else ""
    return [
        Condition(
            AlertKind.UNATTRIBUTED_SHARE,
            "",
            Severity.CRITICAL if current["share"] >= 50 else Severity.WARNING,
            f"{source.name}: {current['share']}% of {current['customers']} customers with hints credited to nobody "
            f"in 24 hours, against {baseline['share']}% before{why}",
            {
                "customers": current["customers"],
                "unattributed": current["unattributed"],
                "share": str(current["share"]),
                "baseline_share": str(baseline["share"]),
                "baseline_customers": baseline["customers"],
                "threshold_points": str(rule.unattributed_rise_points),
                "reasons": current["reasons"],
            },
        )
    ]


CHECKS = (
    check_silence, check_volume, check_rejected, check_unknown_types, check_schema, check_lag, check_unattributed,
)  # fmt: skip


def source_conditions(source: Source, now: dt.datetime) -> list[Condition]:
    """Every condition that holds for `source` at `now` (none when its rules are switched off)."""
    rule = rule_for(source)
    if not rule.enabled or not source.is_active:
        return []
    out: list[Condition] = []
    for check in CHECKS:
        out.extend(check(source, rule, now))
    return out


def disabled_webhook_endpoints() -> list[dict]:
    """Operator webhook endpoints that delivery switched off: [{id, url, brand_id}]. Empty until the webhooks
    app provides endpoints."""
    try:
        from integrations.webhooks.models import WebhookEndpoint
    except ImportError:
        return []
    fields = {f.name for f in WebhookEndpoint._meta.get_fields()}
    if "enabled" not in fields:
        return []
    values = ["pk", "url"] + (["brand_id"] if "brand" in fields else [])
    rows = WebhookEndpoint.objects.filter(enabled=False).values(*values)
    if "disabled_reason" in fields:
        # An endpoint a manager switched off on purpose is not an incident.
        rows = rows.exclude(disabled_reason="").values(*values)
    return [{"id": r["pk"], "url": r["url"], "brand_id": r.get("brand_id")} for r in rows]


def webhook_conditions() -> list[tuple[int | None, Condition]]:
    return [
        (
            row["brand_id"],
            Condition(
                AlertKind.WEBHOOK_DISABLED,
                str(row["id"]),
                Severity.CRITICAL,
                f"Webhook endpoint {row['url']} disabled after repeated failures",
                {"endpoint_id": row["id"], "url": row["url"]},
            ),
        )
        for row in disabled_webhook_endpoints()
    ]

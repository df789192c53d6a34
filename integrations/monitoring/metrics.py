"""Read-only measurements of a source's data flow: volume against its own baseline, rejections, schema,
lag. Alerts and the health page both read these, so what a manager sees is what the alerts judged."""

import datetime as dt
import difflib
import json
from decimal import Decimal

from django.db.models import Count, Max, Min, Q
from django.db.models.functions import TruncHour

from integrations.models import InboundEvent, InboundStatus, MappingVersion, Source
from tracking.choices import EventType
from tracking.models import AttributionMiss, ConversionEvent

UTC = dt.UTC
UNKNOWN_TYPE_REASON = "unknown_event_type"
PROFILE_SAMPLE = 500  # payloads read per side when profiling fields: enough to see a field, cheap on big tables
LAG_SAMPLE = 2000


def hour_floor(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hourly_counts(*, source: Source, start: dt.datetime, end: dt.datetime) -> dict[dt.datetime, int]:
    """Inbound events per UTC hour in [start, end), every hour present (zero where nothing came)."""
    rows = (
        InboundEvent.objects.filter(source=source, received_at__gte=start, received_at__lt=end)
        .annotate(hour=TruncHour("received_at", tzinfo=UTC))
        .values("hour")
        .annotate(n=Count("pk"))
    )
    found = {hour_floor(r["hour"]): r["n"] for r in rows}
    counts, hour = {}, hour_floor(start)
    while hour < end:
        counts[hour] = found.get(hour, 0)
        hour += dt.timedelta(hours=1)
    return counts


def baseline_for_hour(*, source: Source, hour: dt.datetime, weeks: int) -> Decimal | None:
    """Mean volume of the same hour of week over the previous `weeks` weeks in which the source existed;
    None when there is no such week yet (a new source has no baseline to judge against)."""
    samples = []
    for k in range(1, weeks + 1):
        start = hour - dt.timedelta(weeks=k)
        if start < hour_floor(source.created_at):
            break
        samples.append(
            InboundEvent.objects.filter(
                source=source, received_at__gte=start, received_at__lt=start + dt.timedelta(hours=1)
            ).count()
        )
    if not samples:
        return None
    return (Decimal(sum(samples)) / len(samples)).quantize(Decimal("0.01"))


def volume_with_baseline(*, source: Source, now: dt.datetime, hours: int, weeks: int) -> list[dict]:
    """The last `hours` hours (the current one included) with each hour's baseline, from one grouped query
    over the whole span the baselines need."""
    end = hour_floor(now) + dt.timedelta(hours=1)
    start = end - dt.timedelta(hours=hours)
    counts = hourly_counts(source=source, start=start - dt.timedelta(weeks=weeks), end=end)
    born = hour_floor(source.created_at)
    out = []
    for offset in range(hours):
        hour = start + dt.timedelta(hours=offset)
        samples = [
            counts[hour - dt.timedelta(weeks=k)] for k in range(1, weeks + 1) if hour - dt.timedelta(weeks=k) >= born
        ]
        baseline = (Decimal(sum(samples)) / len(samples)).quantize(Decimal("0.01")) if samples else None
        out.append({"hour": hour, "count": counts[hour], "baseline": baseline})
    return out


def last_event_at(*, source: Source) -> dt.datetime | None:
    return InboundEvent.objects.filter(source=source).aggregate(m=Max("received_at"))["m"]


def last_events_per_type(*, source: Source) -> list[dict]:
    """Per canonical type: when the last one was received and when it happened, and how many in all."""
    rows = (
        ConversionEvent.objects.filter(source=source)
        .values("type")
        .annotate(last_received=Max("received_at"), last_occurred=Max("occurred_at"), total=Count("pk"))
        .order_by("type")
    )
    return list(rows)


def type_volume_with_baseline(*, source: Source, now: dt.datetime, weeks: int) -> dict[str, dict]:
    """Per canonical type: events received in the last 24 h, and the mean of the same 24 h in previous weeks
    (weeks before the source existed are left out; None without any)."""

    def counts(start: dt.datetime) -> dict[str, int]:
        return dict(
            ConversionEvent.objects.filter(
                source=source, received_at__gte=start, received_at__lt=start + dt.timedelta(hours=24)
            )
            .values_list("type")
            .annotate(n=Count("pk"))
        )

    start = now - dt.timedelta(hours=24)
    current = counts(start)
    past = [
        counts(start - dt.timedelta(weeks=k))
        for k in range(1, weeks + 1)
        if start - dt.timedelta(weeks=k) >= source.created_at
    ]
    out = {}
    for type_ in set(current) | {t for week in past for t in week}:
        baseline = (Decimal(sum(w.get(type_, 0) for w in past)) / len(past)).quantize(Decimal("0.1")) if past else None
        out[type_] = {"count_24h": current.get(type_, 0), "baseline_24h": baseline}
    return out


def rejected_stats(*, source: Source, since: dt.datetime, until: dt.datetime) -> dict:
    """Total, rejected, share (%) and the reasons, over inbound events received in [since, until)."""
    qs = InboundEvent.objects.filter(source=source, received_at__gte=since, received_at__lt=until)
    by_status = dict(qs.values_list("status").annotate(n=Count("pk")))
    total = sum(by_status.values())
    rejected = by_status.get(InboundStatus.REJECTED, 0)
    reasons = list(
        qs.filter(status=InboundStatus.REJECTED)
        .values("reason_code")
        .annotate(n=Count("pk"))
        .order_by("-n", "reason_code")
    )
    share = (Decimal(rejected) * 100 / total).quantize(Decimal("0.01")) if total else Decimal("0.00")
    return {"total": total, "rejected": rejected, "share": share, "reasons": reasons, "by_status": by_status}


def unknown_event_types(*, source: Source, since: dt.datetime, until: dt.datetime | None = None) -> list[dict]:
    """Rejected-as-unknown events grouped by what the ingestion recorded about them."""
    qs = InboundEvent.objects.filter(
        source=source, status=InboundStatus.REJECTED, reason_code=UNKNOWN_TYPE_REASON, received_at__gte=since
    )
    if until is not None:
        qs = qs.filter(received_at__lt=until)
    rows = qs.values("reason_detail").annotate(n=Count("pk"), last=Max("received_at")).order_by("-n")
    return [{"detail": r["reason_detail"] or "(no detail)", "count": r["n"], "last": r["last"]} for r in rows]


# --- payload schema -----------------------------------------------------------------------------------


def _type_name(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def flatten_fields(payload, prefix: str = "") -> dict[str, str]:
    """{dotted path: JSON type} of a payload; objects are walked, arrays are leaves."""
    out: dict[str, str] = {}
    if not isinstance(payload, dict):
        return out
    for key, value in payload.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten_fields(value, f"{path}."))
        else:
            out[path] = _type_name(value)
    return out


def field_profile(payload_rows) -> dict[str, dict]:
    """Per field: how many payloads carried it and its value types (nulls are not a type change)."""
    profile: dict[str, dict] = {}
    n = 0
    for payload in payload_rows:
        n += 1
        for path, kind in flatten_fields(payload).items():
            entry = profile.setdefault(path, {"seen": 0, "types": set()})
            entry["seen"] += 1
            if kind != "null":
                entry["types"].add(kind)
    return {"payloads": n, "fields": profile}


def _payloads(*, source: Source, since: dt.datetime, until: dt.datetime) -> list:
    return list(
        InboundEvent.objects.filter(source=source, received_at__gte=since, received_at__lt=until)
        .exclude(payload=None)
        .order_by("-received_at")
        .values_list("payload", flat=True)[:PROFILE_SAMPLE]
    )


def schema_drift(*, source: Source, now: dt.datetime, window: dt.timedelta, reference_days: int = 7) -> list[dict]:
    """Fields new in the last `window`, fields every reference payload had and none of the window's has, and
    fields whose value type changed, against the `reference_days` before the window."""
    window_start = now - window
    current = field_profile(_payloads(source=source, since=window_start, until=now))
    reference = field_profile(
        _payloads(source=source, since=window_start - dt.timedelta(days=reference_days), until=window_start)
    )
    if not current["payloads"] or not reference["payloads"]:
        return []
    changes = []
    cur, ref = current["fields"], reference["fields"]
    for path in sorted(set(cur) - set(ref)):
        changes.append({"field": path, "change": "new", "types": sorted(cur[path]["types"])})
    for path in sorted(set(ref) - set(cur)):
        if ref[path]["seen"] == reference["payloads"]:
            changes.append({"field": path, "change": "vanished", "types": sorted(ref[path]["types"])})
    for path in sorted(set(cur) & set(ref)):
        new_types = cur[path]["types"] - ref[path]["types"]
        if new_types and ref[path]["types"]:
            changes.append(
                {
                    "field": path,
                    "change": "type_changed",
                    "from": sorted(ref[path]["types"]),
                    "to": sorted(cur[path]["types"]),
                }
            )
    return changes


CANONICAL_FIELDS = {
    "event_id", "type", "customer_id", "brand", "click_id", "tracking_token", "affiliate_id", "promo_code",
    "sub1", "sub2", "sub3", "sub4", "sub5", "amount", "currency", "occurred_at", "status", "ref_event_id",
    "country", "data", "key",
}  # fmt: skip


def _spec_paths(spec) -> list[str]:
    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, dict):
        path = spec.get("path")
        if isinstance(path, str):
            return [path]
        if isinstance(path, list):
            return [p for p in path if isinstance(p, str)]
    return []


def mapped_paths(mapping: dict) -> set[str]:
    """Payload paths a mapping reads: its fields (per-type overrides too), id_fields and the fields that
    conditional event types look at."""
    mapping = mapping or {}
    fields = mapping.get("fields") or {}
    paths = {p for spec in fields.values() for p in _spec_paths(spec)}
    for overrides in (mapping.get("type_fields") or {}).values():
        if isinstance(overrides, dict):
            paths |= {p for spec in overrides.values() for p in _spec_paths(spec)}
    for rule in (mapping.get("event_types") or {}).values():
        if isinstance(rule, dict) and isinstance(rule.get("field"), str):
            paths.add(rule["field"])
    paths.update(p for p in mapping.get("id_fields") or [] if isinstance(p, str))
    if not fields:
        paths |= CANONICAL_FIELDS
    return paths


def unknown_fields(*, source: Source, since: dt.datetime, until: dt.datetime) -> list[dict]:
    """Payload fields that the source's current mapping does not read, with how often they came."""
    known = mapped_paths(source.mapping)
    profile = field_profile(_payloads(source=source, since=since, until=until))
    out = []
    for path, entry in sorted(profile["fields"].items()):
        if path in known or any(path.startswith(f"{k}.") for k in known) or path.startswith("data."):
            continue
        out.append({"field": path, "seen": entry["seen"], "types": sorted(entry["types"])})
    return out


# --- lag ----------------------------------------------------------------------------------------------


def _percentile(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    values = sorted(values)
    index = max(0, min(len(values) - 1, round(pct / 100 * len(values) + 0.5) - 1))
    return values[index]


def processing_lag(*, source: Source, since: dt.datetime, now: dt.datetime) -> dict:
    """Seconds from receipt to processing in the window (p50, p95, max) and the age of the oldest event still
    waiting to be processed (stuck work shows here even when nothing gets processed)."""
    rows = (
        InboundEvent.objects.filter(source=source, received_at__gte=since, processed_at__isnull=False)
        .order_by("-received_at")
        .values_list("received_at", "processed_at")[:LAG_SAMPLE]
    )
    lags = [max(0.0, (p - r).total_seconds()) for r, p in rows]
    oldest = InboundEvent.objects.filter(source=source, status=InboundStatus.RECEIVED).aggregate(m=Min("received_at"))[
        "m"
    ]
    return {
        "p50": _percentile(lags, 50),
        "p95": _percentile(lags, 95),
        "max": max(lags) if lags else None,
        "oldest_waiting": (now - oldest).total_seconds() if oldest else None,
        "samples": len(lags),
    }


def delivery_latency(*, source: Source, since: dt.datetime) -> dict:
    """Seconds from when the operator says an event happened to our receipt (p50, p95, max): daily or
    two-hourly feeds show here as hours."""
    rows = (
        ConversionEvent.objects.filter(source=source, received_at__gte=since)
        .order_by("-received_at")
        .values_list("occurred_at", "received_at")[:LAG_SAMPLE]
    )
    lat = [max(0.0, (r - o).total_seconds()) for o, r in rows]
    return {"p50": _percentile(lat, 50), "p95": _percentile(lat, 95), "max": max(lat) if lat else None}


# --- mapping history ----------------------------------------------------------------------------------


def _dump(mapping) -> list[str]:
    return json.dumps(mapping, indent=2, sort_keys=True, default=str).splitlines()


def mapping_history(*, source: Source, limit: int = 20) -> list[dict]:
    """Saved mapping versions, newest first, each with its diff against the one before it."""
    versions = list(MappingVersion.objects.filter(source=source).select_related("created_by").order_by("-version"))
    out = []
    for i, version in enumerate(versions[:limit]):
        previous = versions[i + 1] if i + 1 < len(versions) else None
        diff = list(
            difflib.unified_diff(
                _dump(previous.mapping) if previous else [],
                _dump(version.mapping),
                fromfile=f"v{previous.version}" if previous else "(none)",
                tofile=f"v{version.version}",
                lineterm="",
            )
        )
        out.append({"version": version, "diff": diff})
    return out


def expected_type_choices() -> list[str]:
    return list(EventType.values)


# --- attribution --------------------------------------------------------------------------------------


def unattributed_share(*, source: Source, since: dt.datetime, until: dt.datetime) -> dict:
    """Customers whose events from this source (received in [since, until)) carried attribution hints, how many
    of them those events left credited to nobody, the share (%), and the reasons of the hints that failed.

    Judged as the events were recorded (each event keeps the affiliate its customer had then), so a later fix
    or re-run does not rewrite what monitoring saw at the time, except for the events the re-run attributed."""
    hinted = ConversionEvent.objects.filter(
        source=source, received_at__gte=since, received_at__lt=until, customer__isnull=False
    ).exclude(hints={})
    counts = hinted.aggregate(
        customers=Count("customer_id", distinct=True),
        unattributed=Count("customer_id", distinct=True, filter=Q(affiliate__isnull=True)),
    )
    total, unattributed = counts["customers"] or 0, counts["unattributed"] or 0
    reasons = dict(
        AttributionMiss.objects.filter(source=source, created_at__gte=since, created_at__lt=until)
        .values_list("reason")
        .annotate(n=Count("pk"))
        .order_by("reason")
    )
    share = (Decimal(unattributed) * 100 / total).quantize(Decimal("0.01")) if total else Decimal("0.00")
    return {"customers": total, "unattributed": unattributed, "share": share, "reasons": reasons}

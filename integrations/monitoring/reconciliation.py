"""Reconciliation: the operator's own totals for a period against what the platform received.

The operator's CSV has one row per customer (`customer_id`) or per day (`date`, YYYY-MM-DD in the brand's
time zone) and any of the columns `ftds` (count), `deposits` (amount, first deposits included) and
`revenue` (amount, may be negative), optionally `currency` (must be the platform's base currency, the one
our side is summed in). Amounts are decimal strings, never floats. A bad file is refused as a whole with
every problem listed by line; nothing is stored.

Each line of the result carries both sides, the differences and the events behind them: for a customer,
our events of the period and the inbound events of theirs we rejected (the usual reason an event is
"missing"); customers only we have, or only they have, are lines too.
"""

import csv
import datetime as dt
import io
import zoneinfo
from collections import defaultdict
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction

from core.money import quantize
from integrations.models import InboundEvent, InboundStatus, Source
from tracking.choices import EventType
from tracking.models import ConversionEvent

from .models import Granularity, ReconciliationRun

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 100_000
METRICS = ("ftds", "deposits", "revenue")
ZERO = Decimal("0")
CENT = Decimal("0.01")


class ReconciliationError(Exception):
    """The upload cannot be read; `errors` lists [{line, field, message}]."""

    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(f"line {e['line']}: {e['message']}" for e in errors[:5]))
        self.errors = errors


def _amount(raw: str) -> Decimal:
    text = raw.strip().replace(" ", "")
    if not text or any(c in text.lower() for c in ("e", "n", "i")):  # 1e5, NaN, Infinity
        raise InvalidOperation
    value = Decimal(text)
    if not value.is_finite() or abs(value) >= Decimal("1e15"):
        raise InvalidOperation
    if value != value.quantize(CENT):
        raise InvalidOperation
    return value


def parse_totals(
    *, content: bytes, granularity: str, period_start: dt.date, period_end: dt.date
) -> dict[str, dict[str, Decimal]]:
    """{customer id or ISO date: {metric: value}} from the operator's CSV, or ReconciliationError."""
    if len(content) > MAX_BYTES:
        raise ReconciliationError([{"line": 0, "field": "file", "message": "The file is larger than 5 MiB."}])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ReconciliationError([{"line": 0, "field": "file", "message": "The file is not UTF-8 text."}]) from None
    if period_end < period_start:
        raise ReconciliationError([{"line": 0, "field": "period", "message": "The period ends before it starts."}])
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = [h.strip().lower() for h in next(reader, [])]
    if not any(header):
        raise ReconciliationError([{"line": 1, "field": "header", "message": "The file is empty (no header row)."}])
    key_col = "customer_id" if granularity == Granularity.CUSTOMER else "date"
    errors = []
    if key_col not in header:
        errors.append(
            {"line": 1, "field": "header", "message": f"A per-{granularity} file needs a '{key_col}' column."}
        )
    unknown = [h for h in header if h not in {key_col, "currency", *METRICS}]
    if unknown:
        errors.append({"line": 1, "field": "header", "message": f"Unknown columns: {', '.join(unknown)}."})
    metrics = [m for m in METRICS if m in header]
    if not metrics:
        errors.append({"line": 1, "field": "header", "message": "No totals: expected ftds, deposits or revenue."})
    if len(set(header)) != len(header):
        errors.append({"line": 1, "field": "header", "message": "A column is named twice."})
    if errors:
        raise ReconciliationError(errors)
    totals: dict[str, dict[str, Decimal]] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if line > MAX_ROWS + 1:
            errors.append({"line": line, "field": "file", "message": f"More than {MAX_ROWS} rows."})
            break
        if len(row) != len(header):
            errors.append({"line": line, "field": "row", "message": f"{len(row)} cells, the header has {len(header)}."})
            continue
        cells = dict(zip(header, (c.strip() for c in row), strict=True))
        key = cells[key_col]
        if not key:
            errors.append({"line": line, "field": key_col, "message": f"Empty {key_col}."})
            continue
        if granularity == Granularity.DAY:
            try:
                day = dt.date.fromisoformat(key)
            except ValueError:
                errors.append({"line": line, "field": "date", "message": f"'{key}' is not a date (YYYY-MM-DD)."})
                continue
            if not period_start <= day <= period_end:
                errors.append({"line": line, "field": "date", "message": f"{key} is outside the period."})
                continue
            key = day.isoformat()
        if key in totals:
            errors.append({"line": line, "field": key_col, "message": f"'{key}' appears twice."})
            continue
        currency = cells.get("currency", "").upper()
        if currency and currency != settings.BASE_CURRENCY:
            errors.append(
                {
                    "line": line,
                    "field": "currency",
                    "message": f"Totals are compared in {settings.BASE_CURRENCY}, not {currency}.",
                }
            )
            continue
        values = {}
        for metric in metrics:
            raw = cells[metric]
            try:
                if metric == "ftds":
                    if not raw.isdigit():
                        raise InvalidOperation
                    values[metric] = Decimal(int(raw))
                else:
                    values[metric] = _amount(raw) if raw else ZERO
            except (InvalidOperation, ValueError):
                kind = "a whole number ≥ 0" if metric == "ftds" else "an amount with at most 2 decimals"
                errors.append({"line": line, "field": metric, "message": f"'{raw}' is not {kind}."})
        totals[key] = values
    if errors:
        raise ReconciliationError(errors)
    if not totals:
        raise ReconciliationError([{"line": 2, "field": "file", "message": "The file has a header but no rows."}])
    return totals


def _bounds(source: Source, start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime, zoneinfo.ZoneInfo]:
    tz = zoneinfo.ZoneInfo(source.brand.timezone or "UTC")
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return lo, hi, tz


def our_totals(*, source: Source, granularity: str, period_start: dt.date, period_end: dt.date) -> tuple[dict, dict]:
    """({key: {metric: value}}, {key: [event summaries]}) of what the platform holds for the period."""
    lo, hi, tz = _bounds(source, period_start, period_end)
    events = (
        ConversionEvent.objects.filter(
            source=source,
            occurred_at__gte=lo,
            occurred_at__lt=hi,
            type__in=[EventType.FTD, EventType.DEPOSIT, EventType.REVENUE],
        )
        .select_related("customer")
        .order_by("occurred_at", "pk")
    )
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(METRICS, ZERO))
    listed: dict[str, list] = defaultdict(list)
    for e in events:
        key = (
            e.customer.external_id if granularity == Granularity.CUSTOMER and e.customer_id else None
        ) or e.occurred_at.astimezone(tz).date().isoformat()
        if granularity == Granularity.CUSTOMER and not e.customer_id:
            key = "(no customer)"
        amount = e.amount_base or ZERO
        if e.type == EventType.FTD:
            totals[key]["ftds"] += 1
            totals[key]["deposits"] += amount
        elif e.type == EventType.DEPOSIT:
            totals[key]["deposits"] += amount
        else:
            totals[key]["revenue"] += amount
        listed[key].append(
            {
                "id": e.pk,
                "external_id": e.external_id,
                "type": e.type,
                "amount": str(quantize(amount, settings.BASE_CURRENCY)),
            }
        )
    base = settings.BASE_CURRENCY
    for row in totals.values():
        row["deposits"] = quantize(row["deposits"], base)
        row["revenue"] = quantize(row["revenue"], base)
    return dict(totals), dict(listed)


def _rejected_by_customer(source: Source, lo: dt.datetime, hi: dt.datetime) -> dict[str, list]:
    """Rejected inbound events of the period per customer id, as far as their payload tells one."""
    out: dict[str, list] = defaultdict(list)
    field = ((source.mapping or {}).get("fields") or {}).get("customer_id", "customer_id")
    path = field if isinstance(field, str) else field.get("path", "customer_id")
    rows = InboundEvent.objects.filter(
        source=source, status=InboundStatus.REJECTED, received_at__gte=lo, received_at__lt=hi
    ).values("pk", "payload", "reason_code")[:10_000]
    for row in rows:
        node = row["payload"]
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node not in (None, ""):
            out[str(node)].append({"inbound_id": row["pk"], "reason": row["reason_code"]})
    return out


def reconciliation_create(
    *,
    source: Source,
    granularity: str,
    period_start: dt.date,
    period_end: dt.date,
    content: bytes,
    filename: str = "",
    by=None,
) -> ReconciliationRun:
    """Read the operator's totals and store them side by side with ours, line by line."""
    theirs = parse_totals(content=content, granularity=granularity, period_start=period_start, period_end=period_end)
    ours, events = our_totals(source=source, granularity=granularity, period_start=period_start, period_end=period_end)
    lo, hi, _ = _bounds(source, period_start, period_end)
    rejected = _rejected_by_customer(source, lo, hi) if granularity == Granularity.CUSTOMER else {}
    metrics = sorted({m for row in theirs.values() for m in row}, key=METRICS.index)
    lines, diff_lines = [], 0
    totals = {m: {"theirs": ZERO, "ours": ZERO} for m in metrics}
    for key in sorted(set(theirs) | set(ours)):
        t, o = theirs.get(key), ours.get(key, dict.fromkeys(METRICS, ZERO))
        line = {"key": key, "only": "theirs" if key not in ours else ("ours" if t is None else "")}
        differs = False
        for m in metrics:
            their_value = t.get(m, ZERO) if t else ZERO
            diff = o[m] - their_value
            differs |= diff != 0
            line[m] = {"theirs": str(their_value), "ours": str(o[m]), "diff": str(diff)}
            totals[m]["theirs"] += their_value
            totals[m]["ours"] += o[m]
        if t is None and not differs:
            continue
        line["differs"] = differs
        line["events"] = events.get(key, [])
        line["rejected"] = rejected.get(key, [])
        diff_lines += differs
        lines.append(line)
    summary = {
        "lines": len(lines),
        "lines_with_differences": diff_lines,
        "missing_here": sum(1 for ln in lines if ln["only"] == "theirs"),
        "extra_here": sum(1 for ln in lines if ln["only"] == "ours"),
        "totals": {
            m: {"theirs": str(v["theirs"]), "ours": str(v["ours"]), "diff": str(v["ours"] - v["theirs"])}
            for m, v in totals.items()
        },
        "metrics": metrics,
    }
    with transaction.atomic():
        return ReconciliationRun.objects.create(
            source=source,
            granularity=granularity,
            period_start=period_start,
            period_end=period_end,
            filename=filename[:255],
            currency=settings.BASE_CURRENCY,
            lines=lines,
            summary=summary,
            created_by=by,
        )

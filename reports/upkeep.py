"""Keeping the rollups equal to the raw rows: marking what changed, and rewriting it from the raw rows.

- The pipeline marks (affiliate, UTC day) pairs dirty in the transaction of each change: events written
  or changed (tracking.events), registrations (the events' customers), reassigned customers
  (tracking.services), ledger entries booked or rejected (commissions). One INSERT per batch.
- Clicks are never marked by the redirect (its one write stays one write): the upkeep reads the click
  log by id from a watermark and marks the pairs of the new clicks itself.
- `rollups_refresh` (a beat task every minute) takes the marked pairs and rewrites their DailyRollup
  rows and the CohortRollup rows of the registration months the
  days can touch (a day is within 90 days of at most four months' registrations), all from the raw rows
  with INSERT … SELECT, in one transaction per batch.
- `rollups_rebuild` rewrites any period the same way; `rollups_build` builds everything from the first
  raw row and starts the coverage (`RollupState.covered_from`), before which reports read raw rows.

Every rollup write holds one transaction-level advisory lock on PostgreSQL, so two upkeep runs never
rewrite the same rows at once (SQLite serialises writers anyway). A marker is deleted in the same
transaction that rewrites its rollup, before the raw rows are read: a change committed after that read
has its own marker, still there for the next run (markers are plain inserts, so a change never waits
for the upkeep, and the upkeep takes each marked pair once however many markers it has).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    CharField,
    Count,
    DateField,
    DecimalField,
    F,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from commissions.choices import COUNTED_STATUSES
from commissions.models import CommissionEntry
from tracking.choices import EventStatus, EventType
from tracking.models import Click, ConversionEvent, Customer

from .models import CohortRollup, DailyRollup, RollupDirty, RollupState

logger = logging.getLogger(__name__)

UTC = dt.UTC
ONE_DAY = dt.timedelta(days=1)
SUB_FIELDS = ("sub1", "sub2", "sub3", "sub4", "sub5")
DAILY_KEYS = ("day", "brand_id", "affiliate_id", "link_id", "country", *SUB_FIELDS, "currency")
DIMENSIONS = {"": None, "country": "country", "link": "link_id", **{name: name for name in SUB_FIELDS}}
ROLLUP_COLUMNS = ("day", "brand_id", "affiliate_id", "dimension", "value", "currency")
MEASURES = ("clicks", "registrations", "ftds", "deposits", "deposit_amount", "revenue", "commission")
COHORT_AGES = (7, 30, 90)
COHORT_KEYS = ("month", "brand_id", "affiliate_id", "currency")
COHORT_MEASURES = (
    "customers",
    *(f"ftds_d{n}" for n in COHORT_AGES),
    *(f"revenue_d{n}" for n in COHORT_AGES),
    *(f"commission_d{n}" for n in COHORT_AGES),
)
MONEY_TYPES = (EventType.FTD, EventType.DEPOSIT)
LOCK_KEY = 0x5245504F  # "REPO": the one advisory lock of rollup writers
BUILD_CHUNK_DAYS = 31


def _int(value: int = 0) -> Value:
    return Value(value, output_field=BigIntegerField())


def _dec(value: Decimal = Decimal(0)) -> Value:
    return Value(value, output_field=DecimalField(max_digits=28, decimal_places=8))


def _text(value: str = "") -> Value:
    return Value(value, output_field=CharField())


def _sum(field: str, condition: Q | None = None) -> Coalesce:
    return Coalesce(Sum(field, filter=condition), _dec(), output_field=DecimalField(max_digits=28, decimal_places=8))


def day_of(moment: dt.datetime) -> dt.date:
    return moment.astimezone(UTC).date()


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=UTC)


# --- Windows: which raw rows a statement reads ------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Raw rows with their time in [start, end), of these affiliates (None: all)."""

    start: dt.datetime
    end: dt.datetime
    affiliate_ids: tuple[int, ...] | None = None

    def q(self, time_field: str, affiliate_field: str) -> Q:
        q = Q(**{f"{time_field}__gte": self.start, f"{time_field}__lt": self.end})
        if self.affiliate_ids is not None:
            q &= Q(**{f"{affiliate_field}__in": self.affiliate_ids})
        return q


def _any(windows: Iterable[Window], time_field: str, affiliate_field: str) -> Q:
    q = Q(pk__in=[])
    for window in windows:
        q |= window.q(time_field, affiliate_field)
    return q


def windows_for_pairs(pairs: Iterable[tuple[int, dt.date]]) -> list[Window]:
    """One window per day, over the affiliates marked on it."""
    by_day: dict[dt.date, set[int]] = defaultdict(set)
    for affiliate_id, day in pairs:
        by_day[day].add(affiliate_id)
    return [Window(day_start(day), day_start(day) + ONE_DAY, tuple(sorted(ids))) for day, ids in sorted(by_day.items())]


# --- The daily grain from the raw rows --------------------------------------------------------------


def _daily_parts(
    windows: list[Window], keys: tuple[str, ...] = DAILY_KEYS, brand_id: int | None = None
) -> list[QuerySet]:
    """Four grouped queries (clicks, registrations, events, commission) with the same columns: the keys
    k_<key> (all of DAILY_KEYS, or some of them) and the measures m_<measure>; of one brand, or all."""
    zeros = {f"m_{m}": _dec() if m in ("deposit_amount", "revenue", "commission") else _int() for m in MEASURES}

    def grouped(queryset, dims: dict, measures: dict) -> QuerySet:
        if brand_id is not None:
            queryset = queryset.filter(brand_id=brand_id)
        keyed = queryset.annotate(**{f"k_{name}": expr for name, expr in dims.items() if name in keys})
        values = keyed.values(*(f"k_{name}" for name in keys)).order_by()
        return values.annotate(**{**zeros, **measures})

    def own(time_field: str) -> dict:
        return {
            "day": TruncDate(time_field, tzinfo=UTC),
            "brand_id": F("brand_id"),
            "affiliate_id": F("affiliate_id"),
            "link_id": Coalesce(F("link_id"), _int()),
            "country": F("country"),
            **{name: F(name) for name in SUB_FIELDS},
            "currency": _text(),
        }

    def customer_dims(time_field: str, currency) -> dict:
        return {
            "day": TruncDate(time_field, tzinfo=UTC),
            "brand_id": F("brand_id"),
            "affiliate_id": F("affiliate_id"),
            "link_id": Coalesce(F("customer__link_id"), _int()),
            "country": Coalesce(F("customer__country"), _text()),
            **{name: Coalesce(F(f"customer__{name}"), _text()) for name in SUB_FIELDS},
            "currency": currency,
        }

    clicks = Click.objects.filter(_any(windows, "created_at", "affiliate_id"), is_billable=True)
    customers = Customer.objects.filter(_any(windows, "registered_at", "affiliate_id"), affiliate__isnull=False)
    events = ConversionEvent.objects.filter(
        _any(windows, "occurred_at", "affiliate_id"),
        affiliate__isnull=False,
        is_test=False,
        type__in=(*MONEY_TYPES, EventType.REVENUE),
    ).exclude(status=EventStatus.REJECTED)
    entries = CommissionEntry.objects.filter(_any(windows, "occurred_at", "affiliate_id"), status__in=COUNTED_STATUSES)
    return [
        grouped(clicks, own("created_at"), {"m_clicks": Count("pk")}),
        grouped(customers, own("registered_at"), {"m_registrations": Count("pk")}),
        grouped(
            events,
            customer_dims("occurred_at", _text()),
            {
                "m_ftds": Count("pk", filter=Q(type=EventType.FTD)),
                "m_deposits": Count("pk", filter=Q(type__in=MONEY_TYPES)),
                "m_deposit_amount": _sum("amount_base", Q(type__in=MONEY_TYPES)),
                "m_revenue": _sum("amount_base", Q(type=EventType.REVENUE)),
            },
        ),
        grouped(entries, customer_dims("occurred_at", F("currency")), {"m_commission": _sum("amount")}),
    ]


def _union_sql(
    parts: list[QuerySet], keys: tuple[str, ...], measures: tuple[str, ...], using: str = "default"
) -> tuple[str, list]:
    """SELECT keys, SUM(measures) over the UNION ALL of the parts, grouped by the keys (columns named
    k_<key>, m_<measure>). Columns are picked by their aliases, so the order Django gives each part's
    SELECT does not matter."""
    columns = ", ".join([*(f"k_{k}" for k in keys), *(f"m_{m}" for m in measures)])
    selects, params = [], []
    for part in parts:
        sql, part_params = part.query.get_compiler(using=using).as_sql()
        selects.append(f"SELECT {columns} FROM ({sql}) p")  # noqa: S608 (SQL from querysets)
        params.extend(part_params)
    key_list = ", ".join(f"k_{k}" for k in keys)
    sums = ", ".join(f"SUM(m_{m}) AS m_{m}" for m in measures)
    return f"SELECT {key_list}, {sums} FROM ({' UNION ALL '.join(selects)}) u GROUP BY {key_list}", params  # noqa: S608


def daily_select(
    windows: list[Window], using: str = "default", keys: tuple[str, ...] = DAILY_KEYS, brand_id: int | None = None
) -> tuple[str, list]:
    """The full-grain rows the raw rows in `windows` make (columns: `keys` then MEASURES)."""
    return _union_sql(_daily_parts(windows, keys, brand_id), keys, MEASURES, using)


def _insert_select(model, columns: tuple[str, ...], select_sql: str, params: list) -> int:
    quote = connection.ops.quote_name
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) {select_sql}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# --- The cohort grain from the raw rows -------------------------------------------------------------


def _months(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of the months from `start`'s to `end`'s, inclusive."""
    month, out = start.replace(day=1), []
    while month <= end:
        out.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return out


def _next_month(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1)


def cohort_months_touched(day: dt.date) -> list[dt.date]:
    """Registration months whose customers' first 90 days can include `day`."""
    return _months(day - dt.timedelta(days=max(COHORT_AGES)), day)


def windows_for_months(pairs: Iterable[tuple[int, dt.date]]) -> list[Window]:
    by_month: dict[dt.date, set[int]] = defaultdict(set)
    for affiliate_id, month in pairs:
        by_month[month].add(affiliate_id)
    return [
        Window(day_start(month), day_start(_next_month(month)), tuple(sorted(ids)))
        for month, ids in sorted(by_month.items())
    ]


def _cohort_parts(windows: list[Window]) -> list[QuerySet]:
    decimal_measures = {m for m in COHORT_MEASURES if not m.startswith(("ftds", "customers"))}
    zeros = {f"m_{m}": _dec() if m in decimal_measures else _int() for m in COHORT_MEASURES}

    def grouped(queryset, keys: dict, measures: dict) -> QuerySet:
        keyed = queryset.annotate(**{f"k_{name}": expr for name, expr in keys.items()})
        return keyed.values(*(f"k_{name}" for name in COHORT_KEYS)).order_by().annotate(**{**zeros, **measures})

    registered = F("customer__registered_at")

    def within(days: int) -> Q:
        return Q(occurred_at__lt=registered + dt.timedelta(days=days))

    customers = Customer.objects.filter(_any(windows, "registered_at", "affiliate_id"), affiliate__isnull=False)
    events = ConversionEvent.objects.filter(
        _any(windows, "customer__registered_at", "customer__affiliate_id"),
        within(max(COHORT_AGES)),
        customer__affiliate__isnull=False,
        is_test=False,
        type__in=(EventType.FTD, EventType.REVENUE),
    ).exclude(status=EventStatus.REJECTED)
    entries = CommissionEntry.objects.filter(
        _any(windows, "customer__registered_at", "customer__affiliate_id"),
        within(max(COHORT_AGES)),
        affiliate_id=F("customer__affiliate_id"),
        status__in=COUNTED_STATUSES,
    )
    month = TruncMonth("customer__registered_at", tzinfo=UTC, output_field=DateField())
    return [
        grouped(
            customers,
            {
                "month": TruncMonth("registered_at", tzinfo=UTC, output_field=DateField()),
                "brand_id": F("brand_id"),
                "affiliate_id": F("affiliate_id"),
                "currency": _text(),
            },
            {"m_customers": Count("pk")},
        ),
        grouped(
            events,
            {
                "month": month,
                "brand_id": F("customer__brand_id"),
                "affiliate_id": F("customer__affiliate_id"),
                "currency": _text(),
            },
            {
                **{
                    f"m_ftds_d{n}": Count("customer_id", distinct=True, filter=Q(within(n), type=EventType.FTD))
                    for n in COHORT_AGES
                },
                **{f"m_revenue_d{n}": _sum("amount_base", Q(within(n), type=EventType.REVENUE)) for n in COHORT_AGES},
            },
        ),
        grouped(
            entries,
            {
                "month": month,
                "brand_id": F("customer__brand_id"),
                "affiliate_id": F("affiliate_id"),
                "currency": F("currency"),
            },
            {f"m_commission_d{n}": _sum("amount", within(n)) for n in COHORT_AGES},
        ),
    ]


def cohort_select(windows: list[Window], using: str = "default") -> tuple[str, list]:
    """The CohortRollup rows of the customers registered in `windows` (COHORT_KEYS then COHORT_MEASURES)."""
    return _union_sql(_cohort_parts(windows), COHORT_KEYS, COHORT_MEASURES, using)


# --- Rewriting --------------------------------------------------------------------------------------


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


def _day_q(windows: list[Window]) -> Q:
    q = Q(pk__in=[])
    for window in windows:
        part = Q(day__gte=window.start.date(), day__lt=window.end.date())
        if window.affiliate_ids is not None:
            part &= Q(affiliate_id__in=window.affiliate_ids)
        q |= part
    return q


def _month_q(windows: list[Window]) -> Q:
    q = Q(pk__in=[])
    for window in windows:
        part = Q(month__gte=window.start.date(), month__lt=window.end.date())
        if window.affiliate_ids is not None:
            part &= Q(affiliate_id__in=window.affiliate_ids)
        q |= part
    return q


def _dimension_insert_sql(select_sql: str) -> str:
    """INSERT the rollup rows of every dimension from the full-grain rows of `select_sql` (one CTE read once)."""
    quote = connection.ops.quote_name
    sums = ", ".join(f"SUM(m_{m})" for m in MEASURES)
    parts = []
    for dimension, key in DIMENSIONS.items():
        value = "''" if key is None else f"CAST(k_{key} AS {'TEXT' if connection.vendor == 'sqlite' else 'text'})"
        group = ["k_day", "k_brand_id", "k_affiliate_id", *([f"k_{key}"] if key else []), "k_currency"]
        parts.append(
            f"SELECT k_day, k_brand_id, k_affiliate_id, '{dimension}', {value}, k_currency, {sums} "  # noqa: S608
            f"FROM g GROUP BY {', '.join(group)}"
        )
    columns = ", ".join(quote(c) for c in ROLLUP_COLUMNS + MEASURES)
    return (
        f"WITH g AS ({select_sql}) INSERT INTO {quote(DailyRollup._meta.db_table)} ({columns}) "
        + " UNION ALL ".join(parts)
    )


def _rewrite_daily(windows: list[Window]) -> int:
    """Replace the DailyRollup rows of `windows` (day-aligned), and the every-affiliate rows of their days,
    by what the raw rows say."""
    if not windows:
        return 0
    DailyRollup.objects.filter(_day_q(windows)).exclude(affiliate_id=0)._raw_delete(connection.alias)
    select_sql, params = daily_select(windows)
    with connection.cursor() as cursor:
        cursor.execute(_dimension_insert_sql(select_sql), params)
        written = cursor.rowcount
    days = Q(pk__in=[])
    for window in windows:
        days |= Q(day__gte=window.start.date(), day__lt=window.end.date())
    DailyRollup.objects.filter(days, affiliate_id=0)._raw_delete(connection.alias)
    quote = connection.ops.quote_name
    table = quote(DailyRollup._meta.db_table)
    ranges, params = [], []
    for window in windows:
        ranges.append("(day >= %s AND day < %s)")
        params += [connection.ops.adapt_datefield_value(d) for d in (window.start.date(), window.end.date())]
    sums = ", ".join(f"SUM({quote(m)})" for m in MEASURES)
    columns = ", ".join(quote(c) for c in ROLLUP_COLUMNS + MEASURES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT day, brand_id, 0, dimension, value, currency, {sums} "  # noqa: S608
            f"FROM {table} WHERE affiliate_id <> 0 AND ({' OR '.join(ranges)}) "
            "GROUP BY day, brand_id, dimension, value, currency",
            params,
        )
    return written


def _rewrite_cohorts(windows: list[Window]) -> int:
    if not windows:
        return 0
    CohortRollup.objects.filter(_month_q(windows))._raw_delete(connection.alias)
    return _insert_select(CohortRollup, COHORT_KEYS + COHORT_MEASURES, *cohort_select(windows))


def state() -> RollupState:
    row = RollupState.objects.order_by("pk").first()
    return row if row is not None else RollupState.objects.create()


def rollups_rebuild(
    *, start: dt.date, end: dt.date, affiliate_ids: Iterable[int] | None = None, cohorts: bool = True
) -> int:
    """Rewrite the rollups of the UTC days [start, end] (and the cohorts of the months they are in) from the
    raw rows, for some affiliates or all. Returns the DailyRollup rows written."""
    if end < start:
        raise ValueError("end is before start")
    ids = None if affiliate_ids is None else tuple(sorted(set(affiliate_ids)))
    written = 0
    day = start
    while day <= end:
        last = min(end, day + dt.timedelta(days=BUILD_CHUNK_DAYS - 1))
        with transaction.atomic():
            _lock()
            written += _rewrite_daily([Window(day_start(day), day_start(last) + ONE_DAY, ids)])
        day = last + ONE_DAY
    if cohorts:
        for month in _months(start, end):
            with transaction.atomic():
                _lock()
                _rewrite_cohorts([Window(day_start(month), day_start(_next_month(month)), ids)])
    return written


def raw_extent() -> tuple[dt.date, dt.date] | None:
    """The first and last UTC day of any raw row the rollups read."""
    bounds = [
        Click.objects.aggregate(a=Min("created_at"), b=Max("created_at")),
        Customer.objects.filter(registered_at__isnull=False).aggregate(a=Min("registered_at"), b=Max("registered_at")),
        ConversionEvent.objects.aggregate(a=Min("occurred_at"), b=Max("occurred_at")),
        CommissionEntry.objects.aggregate(a=Min("occurred_at"), b=Max("occurred_at")),
    ]
    firsts = [day_of(b["a"]) for b in bounds if b["a"] is not None]
    lasts = [day_of(b["b"]) for b in bounds if b["b"] is not None]
    if not firsts:
        return None
    return min(firsts), max(lasts)


def rollups_build(*, now: dt.datetime | None = None) -> int:
    """Build every rollup from the first raw row to the last, then read reports from them
    (`covered_from`). Clicks after the watermark taken first, and every change marked meanwhile, are
    picked up by the next refresh."""
    now = now or timezone.now()
    watermark = Click.objects.aggregate(m=Max("pk"))["m"] or 0
    extent = raw_extent()
    today = day_of(now)
    start, end = extent if extent else (today, today)
    written = rollups_rebuild(start=start, end=max(end, today))
    current = state()
    RollupState.objects.filter(pk=current.pk).update(
        covered_from=start, click_watermark=max(watermark, current.click_watermark), built_at=now, refreshed_at=now
    )
    return written


# --- Marking ----------------------------------------------------------------------------------------


def rollups_mark(*, pairs: Iterable[tuple[int | None, dt.datetime | dt.date | None]]) -> None:
    """Mark (affiliate id, time or day) pairs dirty, in the caller's transaction: one INSERT.
    Pairs without an affiliate or a time are left out (they are in no report)."""
    seen: set[tuple[int, dt.date]] = set()
    for affiliate_id, moment in pairs:
        if affiliate_id is None or moment is None:
            continue
        day = day_of(moment) if isinstance(moment, dt.datetime) else moment
        seen.add((affiliate_id, day))
    if not seen:
        return
    RollupDirty.objects.bulk_create([RollupDirty(affiliate_id=a, day=d) for a, d in sorted(seen)])


def rollups_mark_customer(*, customer: Customer, affiliate_ids: Iterable[int]) -> None:
    """A customer's attribution changed: its registration, events and entries are in other groups now."""
    affiliates = set(affiliate_ids)
    pairs: set[tuple[int, dt.date]] = set()
    if customer.registered_at is not None:
        pairs.update((a, day_of(customer.registered_at)) for a in affiliates)
    events = ConversionEvent.objects.filter(customer_id=customer.pk).values_list("affiliate_id", "occurred_at")
    entries = CommissionEntry.objects.filter(customer_id=customer.pk).values_list("affiliate_id", "occurred_at")
    for affiliate_id, moment in [*events, *entries]:
        if affiliate_id is not None:
            pairs.add((affiliate_id, day_of(moment)))
            pairs.update((a, day_of(moment)) for a in affiliates)
    rollups_mark(pairs=pairs)


# --- Refresh ----------------------------------------------------------------------------------------


def _mark_new_clicks(now: dt.datetime) -> int:
    """Mark the pairs of clicks after the watermark that are older than the settle time; move the watermark
    to the last of them. A click younger than that may still be uncommitted behind a later id."""
    settle = dt.timedelta(seconds=settings.REPORTS_CLICK_SETTLE_SECONDS)
    with transaction.atomic():
        current = RollupState.objects.select_for_update().get(pk=state().pk)
        clicks = Click.objects.filter(pk__gt=current.click_watermark, created_at__lte=now - settle)
        grouped = (
            clicks.annotate(day=TruncDate("created_at", tzinfo=UTC))
            .values("affiliate_id", "day")
            .order_by()
            .annotate(last=Max("pk"))
        )
        rows = list(grouped)
        if not rows:
            return 0
        # Ids above the last settled click but written earlier than it (a slow transaction) are rare;
        # the settle time keeps them out of the gap the watermark jumps.
        rollups_mark(pairs=[(row["affiliate_id"], _as_date(row["day"])) for row in rows])
        RollupState.objects.filter(pk=current.pk).update(click_watermark=max(row["last"] for row in rows))
        return len(rows)


def _as_date(value) -> dt.date:
    """A day as the database gave it: a date, a datetime (PostgreSQL's date_trunc) or ISO text (SQLite)."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


@dataclass
class RefreshResult:
    built: bool = False
    click_pairs: int = 0
    pairs: int = 0
    cohorts: int = 0
    rows: int = 0


def rollups_refresh(*, now: dt.datetime | None = None, batch: int | None = None, max_batches: int = 100):
    """Bring the rollups up to date: the first call builds them; later ones roll up new clicks and rewrite
    every marked (affiliate, day) and its cohorts, `batch` pairs per transaction."""
    now = now or timezone.now()
    batch = batch or settings.REPORTS_REFRESH_BATCH
    result = RefreshResult()
    if state().covered_from is None:
        result.rows = rollups_build(now=now)
        result.built = True
        return result
    result.click_pairs = _mark_new_clicks(now)
    for _ in range(max_batches):
        with transaction.atomic():
            _lock()
            markers = RollupDirty.objects.order_by("pk").values_list("affiliate_id", "day")[: batch * 20]
            pairs: set[tuple[int, dt.date]] = set()
            for pair in markers:
                pairs.add(pair)
                if len(pairs) >= batch:
                    break
            if not pairs:
                break
            # Every marker of these pairs goes, also one committed since the read above: its change is
            # committed too, so the raw rows read below (after this DELETE) include it.
            for window in windows_for_pairs(pairs):
                RollupDirty.objects.filter(day=window.start.date(), affiliate_id__in=window.affiliate_ids)._raw_delete(
                    connection.alias
                )
            months = {(a, m) for a, day in pairs for m in cohort_months_touched(day)}
            result.rows += _rewrite_daily(windows_for_pairs(pairs))
            _rewrite_cohorts(windows_for_months(months))
            result.pairs += len(pairs)
            result.cohorts += len(months)
    RollupState.objects.filter(pk=state().pk).update(refreshed_at=now)
    return result

"""Reads of reports: activity per day, brand, affiliate, country, link or sub id, and registration cohorts.

Whole UTC days from `RollupState.covered_from` on are read from DailyRollup (the affiliate's rows, or the
every-affiliate rows, of the dimension grouped by); the parts of a range that are not whole days, and
days before the coverage, are aggregated from the raw rows by the same statement that builds the rollups,
so both give the same figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connections
from django.db.models import Sum

from affiliates.models import Affiliate, Brand
from core.money import quantize
from tracking.models import TrackingLink

from . import upkeep
from .models import CohortRollup, DailyRollup, RollupState
from .routers import REPLICA

UTC = dt.UTC
SUB_FIELDS = upkeep.SUB_FIELDS
GROUP_BY = ("day", "brand", "affiliate", "country", "link", *SUB_FIELDS)
COLUMN = {"day": "day", "brand": "brand_id", "affiliate": "affiliate_id", "country": "country", "link": "link_id",
          **{name: name for name in SUB_FIELDS}}  # fmt: skip
# The rollup dimension each grouping reads ("": the whole), and the rollup column its groups are in.
DIMENSION = {
    "day": "",
    "brand": "",
    "affiliate": "",
    "country": "country",
    "link": "link",
    **{n: n for n in SUB_FIELDS},
}
ROLLUP_COLUMN = {"day": "day", "brand": "brand_id", "affiliate": "affiliate_id"}
COUNTS = ("clicks", "registrations", "ftds", "deposits")


def read_alias() -> str:
    return REPLICA if REPLICA in settings.DATABASES else "default"


@dataclass
class ReportRow:
    """One group's activity: counts, base-currency amounts and commission per currency."""

    group: str
    label: str = ""
    clicks: int = 0
    registrations: int = 0
    ftds: int = 0
    deposits: int = 0
    deposit_amount: Decimal = Decimal(0)
    revenue: Decimal = Decimal(0)
    commission: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportFilter:
    affiliate_id: int | None = None
    brand_id: int | None = None

    def where(self) -> dict:
        return {name: getattr(self, name) for name in ("affiliate_id", "brand_id") if getattr(self, name) is not None}


def covered_from(using: str | None = None) -> dt.date | None:
    row = RollupState.objects.using(using or read_alias()).order_by("pk").values_list("covered_from", flat=True)
    return next(iter(row), None)


def _ceil_day(moment: dt.datetime) -> dt.date:
    day = moment.astimezone(UTC).date()
    return day if upkeep.day_start(day) == moment else day + dt.timedelta(days=1)


def split_range(
    start: dt.datetime, end: dt.datetime, covered: dt.date | None
) -> tuple[tuple[dt.date, dt.date] | None, list[upkeep.Window]]:
    """[start, end) as whole days read from rollups ([first, last) days) and raw windows for the rest."""
    first, last = _ceil_day(start), end.astimezone(UTC).date()
    if covered is not None:
        first = max(first, covered)
    if covered is None or first >= last:
        return None, [upkeep.Window(start, end)]
    raw = []
    if start < upkeep.day_start(first):
        raw.append(upkeep.Window(start, upkeep.day_start(first)))
    if upkeep.day_start(last) < end:
        raw.append(upkeep.Window(upkeep.day_start(last), end))
    return (first, last), raw


def _raw_rows(windows: list[upkeep.Window], column: str, flt: ReportFilter, using: str):
    """(group value, currency, measures…) aggregated from the raw rows of `windows`, grouped by `column`
    alone (the raw rows are read once per table, never at the full grain)."""
    if flt.affiliate_id is not None:
        windows = [upkeep.Window(w.start, w.end, (flt.affiliate_id,)) for w in windows]
    sql, params = upkeep.daily_select(windows, using, keys=(column, "currency"), brand_id=flt.brand_id)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _rollup_rows(days: tuple[dt.date, dt.date], group_by: str, flt: ReportFilter, using: str):
    rows = DailyRollup.objects.using(using).filter(day__gte=days[0], day__lt=days[1], dimension=DIMENSION[group_by])
    if flt.affiliate_id is not None:
        rows = rows.filter(affiliate_id=flt.affiliate_id)
    elif group_by == "affiliate":
        rows = rows.exclude(affiliate_id=0)
    else:
        rows = rows.filter(affiliate_id=0)
    if flt.brand_id is not None:
        rows = rows.filter(brand_id=flt.brand_id)
    column = ROLLUP_COLUMN.get(group_by, "value")
    grouped = rows.values_list(column, "currency").order_by().annotate(*(Sum(m) for m in upkeep.MEASURES))
    return list(grouped)


def _value(column: str, value):
    if column == "day":
        return upkeep._as_date(value)
    if column in ("brand_id", "affiliate_id", "link_id"):
        return int(value or 0)
    return value if value is not None else ""


def report(*, start: dt.datetime, end: dt.datetime, group_by: str, flt: ReportFilter | None = None) -> list[ReportRow]:
    """Activity in [start, end) grouped by `group_by`, sorted by group (day: every day of the range, zeros
    where nothing happened):

    - clicks: billable clicks (their own link, country and sub ids);
    - registrations: attributed customers by registration time;
    - ftds, deposits (FTDs and deposits), deposit_amount, revenue (NGR): non-test, non-rejected events of
      attributed customers by occurred_at, amounts in the base currency, grouped by the customer's link,
      country and sub ids;
    - commission: counted ledger entries (rejected never count) by activity time, per currency.
    """
    if group_by not in GROUP_BY:
        raise ValueError(f"unknown group_by {group_by!r}")
    flt = flt or ReportFilter()
    using = read_alias()
    column = COLUMN[group_by]
    days, raw = split_range(start, end, covered_from(using))
    found: list[tuple] = []
    if days is not None:
        found.extend(_rollup_rows(days, group_by, flt, using))
    if raw:
        found.extend(_raw_rows(raw, column, flt, using))

    base = settings.BASE_CURRENCY
    zero = quantize(Decimal(0), base)
    sums: dict = {}
    for value, currency, *measures in found:
        key = _value(column, value)
        row = sums.setdefault(key, {"commission": {}, **{m: 0 for m in upkeep.MEASURES if m != "commission"}})
        clicks, registrations, ftds, deposits, deposit_amount, revenue, commission = measures
        if currency:
            row["commission"][currency] = row["commission"].get(currency, Decimal(0)) + Decimal(commission or 0)
            continue
        for name, amount in zip(COUNTS, (clicks, registrations, ftds, deposits), strict=True):
            row[name] += int(amount or 0)
        row["deposit_amount"] += Decimal(deposit_amount or 0)
        row["revenue"] += Decimal(revenue or 0)
    if group_by == "day":
        day = start.astimezone(UTC).date()
        while upkeep.day_start(day) < end:
            sums.setdefault(day, {"commission": {}, **{m: 0 for m in upkeep.MEASURES if m != "commission"}})
            day += dt.timedelta(days=1)

    labels = _labels(column, list(sums), using)
    out = []
    for key, row in sums.items():
        group, label = labels.get(key, (str(key), ""))
        out.append(
            ReportRow(
                group=group,
                label=label,
                **{name: row[name] for name in COUNTS},
                deposit_amount=quantize(Decimal(row["deposit_amount"]), base) if row["deposit_amount"] else zero,
                revenue=quantize(Decimal(row["revenue"]), base) if row["revenue"] else zero,
                commission={c: quantize(a, c) for c, a in sorted(row["commission"].items())},
            )
        )
    numeric = column in ("affiliate_id", "link_id")
    out.sort(key=lambda r: (int(r.group) if numeric and r.group.isdigit() else 0, r.group))
    return out


def _labels(column: str, keys: list, using: str) -> dict:
    """group and label per key: the brand's slug and name, the affiliate's id and name, the link's token
    and name, the day in ISO form."""
    if column == "day":
        return {key: (key.isoformat(), "") for key in keys}
    if column == "brand_id":
        names = Brand.objects.using(using).filter(pk__in=keys).values_list("pk", "slug", "name")
        return {pk: (slug, name) for pk, slug, name in names}
    if column == "affiliate_id":
        names = Affiliate.objects.using(using).filter(pk__in=keys).values_list("pk", "name")
        return {pk: (str(pk), name) for pk, name in names}
    if column == "link_id":
        names = TrackingLink.objects.using(using).filter(pk__in=keys).values_list("pk", "token", "name")
        return {0: ("", "no link"), **{pk: (token, name) for pk, token, name in names}}
    return {key: (key, "") for key in keys}


# --- Cohorts ----------------------------------------------------------------------------------------


@dataclass
class CohortRow:
    """Customers registered in one month and what they did in their first 7, 30 and 90 days."""

    month: dt.date
    customers: int = 0
    ftds: dict[int, int] = field(default_factory=dict)
    revenue: dict[int, Decimal] = field(default_factory=dict)
    commission: dict[int, dict[str, Decimal]] = field(default_factory=dict)
    matured: dict[int, bool] = field(default_factory=dict)

    def ftd_rate(self, days: int) -> Decimal:
        """Percent of the cohort with an FTD within `days` of registering, to two places."""
        if not self.customers:
            return Decimal("0.00")
        return (Decimal(100) * self.ftds.get(days, 0) / self.customers).quantize(Decimal("0.01"))


def cohorts(
    *,
    start: dt.date,
    end: dt.date,
    affiliate_id: int | None = None,
    brand_id: int | None = None,
    today: dt.date | None = None,
) -> list[CohortRow]:
    """One row per registration month from `start`'s to `end`'s (UTC), every month present."""
    using = read_alias()
    months = upkeep._months(start, end)
    if not months:
        return []
    first, after = months[0], upkeep._next_month(months[-1])
    covered = covered_from(using)
    where = {k: v for k, v in (("affiliate_id", affiliate_id), ("brand_id", brand_id)) if v is not None}
    measures = upkeep.COHORT_MEASURES
    if covered is not None and covered.replace(day=1) <= first:
        found = list(
            CohortRollup.objects.using(using)
            .filter(month__gte=first, month__lt=after, **where)
            .values_list("month", "currency")
            .order_by()
            .annotate(*(Sum(m) for m in measures))
        )
    else:
        ids = (affiliate_id,) if affiliate_id is not None else None
        sql, params = upkeep.cohort_select(
            [upkeep.Window(upkeep.day_start(first), upkeep.day_start(after), ids)], using
        )
        conditions = " AND ".join(f"k_{name} = %s" for name in where) or "1 = 1"
        sums = ", ".join(f"SUM(m_{m})" for m in measures)
        outer = (
            f"SELECT k_month, k_currency, {sums} FROM ({sql}) r "  # noqa: S608 (names are constants)
            f"WHERE {conditions} GROUP BY k_month, k_currency"
        )
        with connections[using].cursor() as cursor:
            cursor.execute(outer, [*params, *where.values()])
            found = cursor.fetchall()

    today = today or dt.datetime.now(UTC).date()
    rows = {month: CohortRow(month=month) for month in months}
    base = settings.BASE_CURRENCY
    for month, currency, *values in found:
        row = rows[upkeep._as_date(month)]
        data = dict(zip(measures, values, strict=True))
        if currency:
            for n in upkeep.COHORT_AGES:
                by_currency = row.commission.setdefault(n, {})
                by_currency[currency] = by_currency.get(currency, Decimal(0)) + Decimal(data[f"commission_d{n}"] or 0)
            continue
        row.customers += int(data["customers"] or 0)
        for n in upkeep.COHORT_AGES:
            row.ftds[n] = row.ftds.get(n, 0) + int(data[f"ftds_d{n}"] or 0)
            row.revenue[n] = row.revenue.get(n, Decimal(0)) + Decimal(data[f"revenue_d{n}"] or 0)
    for row in rows.values():
        last_registration = upkeep._next_month(row.month) - dt.timedelta(days=1)
        for n in upkeep.COHORT_AGES:
            row.ftds.setdefault(n, 0)
            row.revenue[n] = quantize(row.revenue.get(n, Decimal(0)), base)
            row.commission[n] = {c: quantize(a, c) for c, a in sorted(row.commission.get(n, {}).items())}
            row.matured[n] = last_registration + dt.timedelta(days=n) < today
    return [rows[month] for month in months]

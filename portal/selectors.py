"""Reads for the partner API: one affiliate's deals and terms history, ledger, links and statistics.

Every function takes the affiliate's id and reads only rows that belong to it (or, for deals, the
brand defaults that apply to it). Reads go through the owning apps' selectors where they exist.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from affiliates.models import DealAssignment, DealVersion
from commissions.choices import COUNTED_STATUSES, EntryStatus
from commissions.models import CommissionEntry
from commissions.selectors import affiliate_balance, commission_entries
from core.money import quantize
from tracking.choices import EventStatus, EventType
from tracking.models import Click, ConversionEvent, Customer, TrackingLink
from tracking.selectors import tracking_link_list

UTC = dt.UTC
SUB_FIELDS = ("sub1", "sub2", "sub3", "sub4", "sub5")
GROUP_BY = ("day", "brand", "country", *SUB_FIELDS)


# --- Deals ----------------------------------------------------------------------------------------


def _uncovered(start: dt.date, end: dt.date | None, covers: list[tuple[dt.date, dt.date | None]]) -> bool:
    """Whether some day in [start, end] (end None: open) lies outside every (from, to) in `covers`."""
    day = start
    for cover_from, cover_to in sorted(covers):
        if cover_to is not None and cover_to < day:
            continue
        if cover_from > day:
            return True  # a gap before this cover begins
        if cover_to is None:
            return False  # covered from here on, for good
        day = cover_to + dt.timedelta(days=1)
        if end is not None and day > end:
            return False
    return True


def partner_deal_assignments(*, affiliate_id: int) -> QuerySet[DealAssignment]:
    """The affiliate's own assignments, and every brand default on days it has none of its own at that
    brand (a default wholly shadowed by its own assignments never applies to it and is left out).
    Each with its deal's versions prefetched, oldest first."""
    own = list(
        DealAssignment.objects.filter(affiliate_id=affiliate_id).values_list("brand_id", "valid_from", "valid_to")
    )
    covers: dict[int, list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
    for brand_id, valid_from, valid_to in own:
        covers[brand_id].append((valid_from, valid_to))
    defaults = DealAssignment.objects.filter(affiliate__isnull=True).values_list(
        "pk", "brand_id", "valid_from", "valid_to"
    )
    applying = [pk for pk, brand_id, start, end in defaults if _uncovered(start, end, covers.get(brand_id, []))]
    return (
        DealAssignment.objects.filter(Q(affiliate_id=affiliate_id) | Q(pk__in=applying))
        .select_related("deal", "brand")
        .prefetch_related(Prefetch("deal__versions", queryset=DealVersion.objects.order_by("version")))
    )


def version_periods(versions: list[DealVersion]) -> list[tuple[DealVersion, dt.date | None]]:
    """Each version (oldest first) with the last day it was in force: the day before the next one
    starts, None for the newest."""
    ordered = sorted(versions, key=lambda v: v.version)
    ends = [later.effective_from - dt.timedelta(days=1) for later in ordered[1:]] + [None]
    return list(zip(ordered, ends, strict=True))


# --- Commissions ----------------------------------------------------------------------------------


def partner_commissions(
    *,
    affiliate_id: int,
    status: str | None = None,
    kind: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> QuerySet[CommissionEntry]:
    """The affiliate's ledger entries, optionally by status, kind and activity time in [start, end)."""
    rows = commission_entries(affiliate_id=affiliate_id)
    if status:
        rows = rows.filter(status=status)
    if kind:
        rows = rows.filter(kind=kind)
    if start is not None:
        rows = rows.filter(occurred_at__gte=start)
    if end is not None:
        rows = rows.filter(occurred_at__lt=end)
    return rows


@dataclass
class CurrencyBalance:
    currency: str
    balance: Decimal
    by_status: dict[str, Decimal] = field(default_factory=dict)


def partner_balance(*, affiliate_id: int) -> list[CurrencyBalance]:
    """Per currency: the balance (the ledger's sum of counted entries) and the sum of entries in each
    status, quantized to the currency's minor unit. One grouped query plus the ledger's own balance."""
    sums = (
        CommissionEntry.objects.filter(affiliate_id=affiliate_id)
        .values("currency", "status")
        .annotate(total=Sum("amount"))
        .order_by("currency", "status")
    )
    by_currency: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for row in sums:
        by_currency[row["currency"]][row["status"]] = row["total"]
    balances = affiliate_balance(affiliate_id=affiliate_id)
    out = []
    for currency in sorted(by_currency):
        zero = quantize(Decimal(0), currency)
        statuses = by_currency[currency]
        out.append(
            CurrencyBalance(
                currency=currency,
                balance=balances.get(currency, zero),
                by_status={s: quantize(statuses.get(s, zero), currency) for s in EntryStatus.values},
            )
        )
    return out


# --- Tracking links -------------------------------------------------------------------------------


def partner_tracking_links(*, affiliate_id: int) -> QuerySet[TrackingLink]:
    return tracking_link_list().filter(affiliate_id=affiliate_id)


# --- Statistics -----------------------------------------------------------------------------------


@dataclass
class StatsRow:
    group: str
    clicks: int = 0
    registrations: int = 0
    ftds: int = 0
    deposits: int = 0
    deposit_amount: Decimal = Decimal(0)
    revenue: Decimal = Decimal(0)
    commission: dict[str, Decimal] = field(default_factory=dict)


def _grouped(queryset: QuerySet, group_by: str, *, time_field: str, via_customer: bool, also: tuple = ()):
    """`queryset.values(g=<group>, *also)`: day is the UTC day of `time_field`; country and sub ids are the
    row's own (clicks, customers) or its customer's (events, entries)."""
    if group_by == "day":
        return queryset.annotate(g=TruncDate(time_field, tzinfo=UTC)).values("g", *also).order_by()
    path = "brand__slug" if group_by == "brand" else f"customer__{group_by}" if via_customer else group_by
    return queryset.values(*also, g=F(path)).order_by()


def _label(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def partner_stats(*, affiliate_id: int, start: dt.datetime, end: dt.datetime, group_by: str) -> list[StatsRow]:
    """Activity of the affiliate in [start, end) grouped by `group_by` (day: the UTC day), one aggregate
    query per table:

    - clicks: billable clicks on its links (Click.created_at);
    - registrations: its customers by registration time;
    - ftds, deposits (FTDs and deposits), deposit_amount, revenue (NGR): its non-test, non-rejected
      events by occurred_at, amounts in the base currency; grouped by the customer's country and sub ids;
    - commission: the sum of its counted ledger entries (rejected never count) by activity time, per
      currency.

    With group_by=day every day of the range is present, with zeros where nothing happened.
    """
    if group_by not in GROUP_BY:
        raise ValueError(f"unknown group_by {group_by!r}")
    base = settings.BASE_CURRENCY
    rows: dict[str, StatsRow] = {}

    def row(value) -> StatsRow:
        label = _label(value)
        if label not in rows:
            zero = quantize(Decimal(0), base)
            rows[label] = StatsRow(group=label, deposit_amount=zero, revenue=zero)
        return rows[label]

    clicks = Click.objects.filter(
        affiliate_id=affiliate_id, created_at__gte=start, created_at__lt=end, is_billable=True
    )
    for item in _grouped(clicks, group_by, time_field="created_at", via_customer=False).annotate(n=Count("pk")):
        row(item["g"]).clicks = item["n"]

    customers = Customer.objects.filter(affiliate_id=affiliate_id, registered_at__gte=start, registered_at__lt=end)
    for item in _grouped(customers, group_by, time_field="registered_at", via_customer=False).annotate(n=Count("pk")):
        row(item["g"]).registrations = item["n"]

    money_types = (EventType.FTD, EventType.DEPOSIT)
    events = ConversionEvent.objects.filter(
        affiliate_id=affiliate_id,
        occurred_at__gte=start,
        occurred_at__lt=end,
        is_test=False,
        type__in=(*money_types, EventType.REVENUE),
    ).exclude(status=EventStatus.REJECTED)
    grouped = _grouped(events, group_by, time_field="occurred_at", via_customer=True).annotate(
        ftds=Count("pk", filter=Q(type=EventType.FTD)),
        deposits=Count("pk", filter=Q(type__in=money_types)),
        deposit_amount=Sum("amount_base", filter=Q(type__in=money_types)),
        revenue=Sum("amount_base", filter=Q(type=EventType.REVENUE)),
    )
    for item in grouped:
        target = row(item["g"])
        target.ftds = item["ftds"]
        target.deposits = item["deposits"]
        target.deposit_amount = quantize(item["deposit_amount"] or Decimal(0), base)
        target.revenue = quantize(item["revenue"] or Decimal(0), base)

    entries = CommissionEntry.objects.filter(
        affiliate_id=affiliate_id, occurred_at__gte=start, occurred_at__lt=end, status__in=COUNTED_STATUSES
    )
    grouped = _grouped(entries, group_by, time_field="occurred_at", via_customer=True, also=("currency",)).annotate(
        total=Sum("amount")
    )
    for item in grouped:
        row(item["g"]).commission[item["currency"]] = quantize(item["total"], item["currency"])

    if group_by == "day":
        day = start.astimezone(UTC).date()
        while dt.datetime.combine(day, dt.time(), tzinfo=UTC) < end:
            row(day)
            day += dt.timedelta(days=1)
    return [rows[label] for label in sorted(rows)]

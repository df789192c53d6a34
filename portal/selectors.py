"""Reads for the partner API: one affiliate's deals and terms history, ledger, links and statistics.

Every function takes the affiliate's id and reads only rows that belong to it (or, for deals, the
brand defaults that apply to it). Reads go through the owning apps' selectors where they exist.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet, Sum

from affiliates.models import DealAssignment, DealVersion
from commissions.choices import EntryStatus
from commissions.models import CommissionEntry
from commissions.selectors import affiliate_balance, commission_entries
from core.money import quantize
from reports.selectors import ReportFilter, report
from tracking.models import TrackingLink
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


def partner_stats(*, affiliate_id: int, start: dt.datetime, end: dt.datetime, group_by: str) -> list[StatsRow]:
    """Activity of the affiliate in [start, end) grouped by `group_by` (day: the UTC day), read through
    reports.selectors.report (daily rollups for whole days, the raw rows for the rest of the range):

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
    rows = report(start=start, end=end, group_by=group_by, flt=ReportFilter(affiliate_id=affiliate_id))
    return [
        StatsRow(
            group=row.group,
            clicks=row.clicks,
            registrations=row.registrations,
            ftds=row.ftds,
            deposits=row.deposits,
            deposit_amount=row.deposit_amount,
            revenue=row.revenue,
            commission=row.commission,
        )
        for row in rows
    ]

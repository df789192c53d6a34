"""Reads for the portal's pages: dashboard totals and their comparison, reports by tracking link, the
anonymised customer list, link numbers and the sub-affiliate summary.

Every function takes the affiliate's id and reads only that affiliate's rows. Figures by day, brand, country
and sub id come from `selectors.partner_stats` (the partner API's statistics), so the portal and the API
always agree; the grouping by tracking link, which the API does not offer, is computed here the same way.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from affiliates.models import Affiliate
from commissions.choices import COUNTED_STATUSES, EntryKind, EntryStatus
from commissions.models import CommissionEntry
from core.money import quantize
from integrations.webhooks.postbacks import hash_customer_id
from tracking.choices import EventStatus, EventType
from tracking.models import Click, ConversionEvent, Customer, PromoCode, TrackingLink

from .selectors import StatsRow, partner_stats

METRICS = ("clicks", "registrations", "ftds", "deposits", "deposit_amount", "revenue")
MONEY_TYPES = (EventType.FTD, EventType.DEPOSIT)


def _zero() -> Decimal:
    return quantize(Decimal(0), settings.BASE_CURRENCY)


@dataclass
class Totals:
    clicks: int = 0
    registrations: int = 0
    ftds: int = 0
    deposits: int = 0
    deposit_amount: Decimal = field(default_factory=_zero)
    revenue: Decimal = field(default_factory=_zero)
    commission: dict[str, Decimal] = field(default_factory=dict)


def totals_of(rows: list[StatsRow]) -> Totals:
    out = Totals()
    for row in rows:
        for name in METRICS:
            setattr(out, name, getattr(out, name) + getattr(row, name))
        for currency, amount in row.commission.items():
            out.commission[currency] = out.commission.get(currency, Decimal(0)) + amount
    return out


def change_percent(current, previous) -> Decimal | None:
    """The change from the previous period in percent (one decimal), None when there is nothing to compare."""
    current, previous = Decimal(current), Decimal(previous)
    if previous == 0:
        return None
    return ((current - previous) / abs(previous) * 100).quantize(Decimal("0.1"))


@dataclass
class Dashboard:
    start: dt.datetime
    end: dt.datetime
    previous_start: dt.datetime
    rows: list[StatsRow]
    totals: Totals
    previous: Totals
    changes: dict[str, Decimal | None]
    commission_changes: dict[str, Decimal | None]
    currencies: list[str]


def dashboard(*, affiliate_id: int, start: dt.datetime, end: dt.datetime) -> Dashboard:
    """The range by day, its totals, and the same totals for the period of equal length just before it."""
    length = end - start
    rows = partner_stats(affiliate_id=affiliate_id, start=start, end=end, group_by="day")
    previous_rows = partner_stats(affiliate_id=affiliate_id, start=start - length, end=start, group_by="day")
    totals, previous = totals_of(rows), totals_of(previous_rows)
    currencies = sorted(set(totals.commission) | set(previous.commission))
    return Dashboard(
        start=start,
        end=end,
        previous_start=start - length,
        rows=rows,
        totals=totals,
        previous=previous,
        changes={name: change_percent(getattr(totals, name), getattr(previous, name)) for name in METRICS},
        commission_changes={
            c: change_percent(totals.commission.get(c, 0), previous.commission.get(c, 0)) for c in currencies
        },
        currencies=currencies,
    )


def chart_data(board: Dashboard) -> dict:
    """What the dashboard's charts draw: one label per day and one series per figure (strings for money)."""
    return {
        "labels": [row.group for row in board.rows],
        "clicks": [row.clicks for row in board.rows],
        "registrations": [row.registrations for row in board.rows],
        "ftds": [row.ftds for row in board.rows],
        "deposits": [str(row.deposit_amount) for row in board.rows],
        "revenue": [str(row.revenue) for row in board.rows],
        "commission": {c: [str(row.commission.get(c, Decimal(0))) for row in board.rows] for c in board.currencies},
        "currency": settings.BASE_CURRENCY,
    }


# --- Reports ----------------------------------------------------------------------------------------


def link_stats(*, affiliate_id: int, start: dt.datetime, end: dt.datetime) -> list[StatsRow]:
    """The figures of `partner_stats` grouped by tracking link (its id as the group), in [start, end):
    clicks on the link, customers it attributed, their events and the commission they earned."""
    base = settings.BASE_CURRENCY
    rows: dict[int | None, StatsRow] = {}

    def row(link_id) -> StatsRow:
        if link_id not in rows:
            rows[link_id] = StatsRow(group=str(link_id or ""), deposit_amount=_zero(), revenue=_zero())
        return rows[link_id]

    clicks = Click.objects.filter(
        affiliate_id=affiliate_id, created_at__gte=start, created_at__lt=end, is_billable=True
    )
    for item in clicks.values("link_id").annotate(n=Count("pk")).order_by():
        row(item["link_id"]).clicks = item["n"]
    customers = Customer.objects.filter(affiliate_id=affiliate_id, registered_at__gte=start, registered_at__lt=end)
    for item in customers.values("link_id").annotate(n=Count("pk")).order_by():
        row(item["link_id"]).registrations = item["n"]
    events = ConversionEvent.objects.filter(
        affiliate_id=affiliate_id,
        occurred_at__gte=start,
        occurred_at__lt=end,
        is_test=False,
        type__in=(*MONEY_TYPES, EventType.REVENUE),
    ).exclude(status=EventStatus.REJECTED)
    grouped = (
        events.values("customer__link_id")
        .annotate(
            ftds=Count("pk", filter=Q(type=EventType.FTD)),
            deposits=Count("pk", filter=Q(type__in=MONEY_TYPES)),
            deposit_amount=Sum("amount_base", filter=Q(type__in=MONEY_TYPES)),
            revenue=Sum("amount_base", filter=Q(type=EventType.REVENUE)),
        )
        .order_by()
    )
    for item in grouped:
        target = row(item["customer__link_id"])
        target.ftds, target.deposits = item["ftds"], item["deposits"]
        target.deposit_amount = quantize(item["deposit_amount"] or Decimal(0), base)
        target.revenue = quantize(item["revenue"] or Decimal(0), base)
    entries = CommissionEntry.objects.filter(
        affiliate_id=affiliate_id, occurred_at__gte=start, occurred_at__lt=end, status__in=COUNTED_STATUSES
    )
    for item in entries.values("customer__link_id", "currency").annotate(total=Sum("amount")).order_by():
        row(item["customer__link_id"]).commission[item["currency"]] = quantize(item["total"], item["currency"])
    return list(rows.values())


@dataclass
class ReportRow:
    key: str
    label: str
    stats: StatsRow


def report(*, affiliate_id: int, start: dt.datetime, end: dt.datetime, group_by: str) -> list[ReportRow]:
    """Report rows with a readable label: a link by its name and token, an empty group as "(none)"."""
    if group_by == "link":
        stats = link_stats(affiliate_id=affiliate_id, start=start, end=end)
        ids = [int(s.group) for s in stats if s.group]
        links = {link.pk: link for link in TrackingLink.objects.filter(affiliate_id=affiliate_id, pk__in=ids)}
        out = []
        for s in stats:
            link = links.get(int(s.group)) if s.group else None
            label = f"{link.name or link.brand.slug} ({link.token[:8]}…)" if link else "(no link: promo code or direct)"
            out.append(ReportRow(key=s.group, label=label, stats=s))
        return sorted(out, key=lambda r: r.label)
    stats = partner_stats(affiliate_id=affiliate_id, start=start, end=end, group_by=group_by)
    return [ReportRow(key=s.group, label=s.group or "(none)", stats=s) for s in stats]


SORT_KEYS = ("label", *METRICS, "commission")


def sort_rows(rows: list[ReportRow], sort: str) -> list[ReportRow]:
    """Sort by a column (`-name` for descending); commission sorts by its sum over currencies."""
    name = sort.lstrip("-")
    if name not in SORT_KEYS:
        return rows

    def key(r: ReportRow):
        if name == "label":
            return r.key
        if name == "commission":
            return sum(r.stats.commission.values(), Decimal(0))
        return getattr(r.stats, name)

    return sorted(rows, key=key, reverse=sort.startswith("-"))


def report_currencies(rows: list[ReportRow]) -> list[str]:
    return sorted({c for r in rows for c in r.stats.commission})


# --- Customers -------------------------------------------------------------------------------------


def anonymised_id(customer: Customer) -> str:
    """The customer's pseudonym: a keyed hash of the operator's id, the same the partner's postbacks carry
    as {customer_id}. Stable, matchable, and not reversible without the platform's secret."""
    return hash_customer_id(customer.external_id)


CUSTOMER_STATUSES = {
    "registered": "Registered",
    "deposited": "Deposited (FTD)",
    "qualified": "Qualified",
}


def partner_customers(*, affiliate_id: int, brand_id: int | None = None) -> QuerySet[Customer]:
    """The affiliate's own customers (never a sub-affiliate's), newest first, with what is needed to show
    their status. No personal data is read: the page shows the pseudonym, brand, country and dates."""
    ftd = ConversionEvent.objects.filter(customer=OuterRef("pk"), type=EventType.FTD, is_test=False).exclude(
        status=EventStatus.REJECTED
    )
    qualified = CommissionEntry.objects.filter(
        customer=OuterRef("pk"),
        affiliate_id=affiliate_id,
        kind__in=(EntryKind.CPA, EntryKind.CPL),
        status__in=(EntryStatus.ON_HOLD, EntryStatus.APPROVED, EntryStatus.PAID),
    )
    rows = (
        Customer.objects.filter(affiliate_id=affiliate_id)
        .select_related("brand", "link")
        .annotate(has_ftd=Exists(ftd), is_qualified=Exists(qualified))
        .order_by("-registered_at", "-pk")
    )
    if brand_id:
        rows = rows.filter(brand_id=brand_id)
    return rows


def customer_status(customer: Customer) -> str:
    if customer.is_qualified:
        return "qualified"
    if customer.has_ftd:
        return "deposited"
    return "registered"


def customer_commissions(*, affiliate_id: int, customer_ids: list[int]) -> dict[int, dict[str, Decimal]]:
    """The affiliate's counted commission per customer and currency, for one page of customers."""
    out: dict[int, dict[str, Decimal]] = defaultdict(dict)
    sums = (
        CommissionEntry.objects.filter(
            affiliate_id=affiliate_id, customer_id__in=customer_ids, status__in=COUNTED_STATUSES
        )
        .values("customer_id", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for item in sums:
        out[item["customer_id"]][item["currency"]] = quantize(item["total"], item["currency"])
    return out


# --- Tracking links and promo codes ----------------------------------------------------------------


@dataclass
class LinkNumbers:
    clicks: int = 0
    registrations: int = 0
    ftds: int = 0
    commission: dict[str, Decimal] = field(default_factory=dict)


def link_numbers(*, affiliate_id: int, link_ids: list[int]) -> dict[int, LinkNumbers]:
    """All-time billable clicks, attributed customers, FTDs and counted commission of each link."""
    out = {pk: LinkNumbers() for pk in link_ids}
    clicks = Click.objects.filter(affiliate_id=affiliate_id, link_id__in=link_ids, is_billable=True)
    for item in clicks.values("link_id").annotate(n=Count("pk")).order_by():
        out[item["link_id"]].clicks = item["n"]
    customers = Customer.objects.filter(affiliate_id=affiliate_id, link_id__in=link_ids)
    for item in customers.values("link_id").annotate(n=Count("pk")).order_by():
        out[item["link_id"]].registrations = item["n"]
    ftds = ConversionEvent.objects.filter(
        affiliate_id=affiliate_id, customer__link_id__in=link_ids, type=EventType.FTD, is_test=False
    ).exclude(status=EventStatus.REJECTED)
    for item in ftds.values("customer__link_id").annotate(n=Count("pk")).order_by():
        out[item["customer__link_id"]].ftds = item["n"]
    entries = CommissionEntry.objects.filter(
        affiliate_id=affiliate_id, customer__link_id__in=link_ids, status__in=COUNTED_STATUSES
    )
    for item in entries.values("customer__link_id", "currency").annotate(total=Sum("amount")).order_by():
        out[item["customer__link_id"]].commission[item["currency"]] = quantize(item["total"], item["currency"])
    return out


def partner_promo_codes(*, affiliate_id: int) -> QuerySet[PromoCode]:
    return PromoCode.objects.filter(affiliate_id=affiliate_id).select_related("brand").order_by("brand__name", "code")


def promo_code_customers(*, affiliate_id: int, code_ids: list[int]) -> dict[int, int]:
    rows = Customer.objects.filter(affiliate_id=affiliate_id, promo_code_id__in=code_ids)
    return {
        item["promo_code_id"]: item["n"] for item in rows.values("promo_code_id").annotate(n=Count("pk")).order_by()
    }


# --- Sub-affiliates -----------------------------------------------------------------------------------


@dataclass
class SubAffiliateRow:
    affiliate: Affiliate
    clicks: int = 0
    registrations: int = 0
    ftds: int = 0
    commission: dict[str, Decimal] = field(default_factory=dict)
    override: dict[str, Decimal] = field(default_factory=dict)


def subaffiliate_summary(*, affiliate_id: int) -> tuple[list[SubAffiliateRow], dict[str, Decimal]]:
    """The affiliate's direct sub-affiliates with their all-time totals (billable clicks, customers, FTDs,
    counted commission) and the override the affiliate earned on each; plus the override total per currency.
    Totals only: never a sub-affiliate's customers."""
    children = list(Affiliate.objects.filter(parent_id=affiliate_id).order_by("name"))
    ids = [child.pk for child in children]
    rows = {child.pk: SubAffiliateRow(affiliate=child) for child in children}
    for item in (
        Click.objects.filter(affiliate_id__in=ids, is_billable=True)
        .values("affiliate_id")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        rows[item["affiliate_id"]].clicks = item["n"]
    for item in Customer.objects.filter(affiliate_id__in=ids).values("affiliate_id").annotate(n=Count("pk")).order_by():
        rows[item["affiliate_id"]].registrations = item["n"]
    ftds = ConversionEvent.objects.filter(affiliate_id__in=ids, type=EventType.FTD, is_test=False).exclude(
        status=EventStatus.REJECTED
    )
    for item in ftds.values("affiliate_id").annotate(n=Count("pk")).order_by():
        rows[item["affiliate_id"]].ftds = item["n"]
    earned = CommissionEntry.objects.filter(affiliate_id__in=ids, status__in=COUNTED_STATUSES)
    for item in earned.values("affiliate_id", "currency").annotate(total=Sum("amount")).order_by():
        rows[item["affiliate_id"]].commission[item["currency"]] = quantize(item["total"], item["currency"])
    overrides = CommissionEntry.objects.filter(
        affiliate_id=affiliate_id, kind=EntryKind.SUBAFFILIATE, status__in=COUNTED_STATUSES
    )
    total: dict[str, Decimal] = {}
    for item in overrides.values("source_affiliate_id", "currency").annotate(total=Sum("amount")).order_by():
        amount = quantize(item["total"], item["currency"])
        total[item["currency"]] = total.get(item["currency"], Decimal(0)) + amount
        if item["source_affiliate_id"] in rows:
            rows[item["source_affiliate_id"]].override[item["currency"]] = amount
    return list(rows.values()), total


# --- Deals ------------------------------------------------------------------------------------------

TERM_LABELS = [
    ("cpa_amount", "CPA", "{currency}"),
    ("cpl_amount", "CPL per qualified registration", "{currency}"),
    ("revshare_percent", "RevShare", "%"),
    ("rebate_per_lot", "Rebate per lot", "{currency}"),
    ("prop_percent", "Share of challenge fees", "%"),
    ("prop_pass_amount", "Per challenge pass", "{currency}"),
    ("prop_funded_amount", "Per funded activation", "{currency}"),
    ("subaffiliate_percent", "Sub-affiliate override", "%"),
]
QUALIFICATION_LABELS = {
    "min_ftd": "minimum FTD",
    "min_deposits": "minimum deposits",
    "min_wagering": "minimum wagering",
    "min_lots": "minimum lots",
    "min_bets": "minimum bets",
}


def _nonzero(value) -> bool:
    try:
        return Decimal(str(value)) != 0
    except (ArithmeticError, ValueError, TypeError):
        return bool(value)


def _plain(value) -> str:
    """20.0000 → 20, 12.5000 → 12.5."""
    number = Decimal(str(value)).normalize()
    return f"{number:f}"


def deal_summary(terms: dict) -> list[tuple[str, str]]:
    """The terms a partner reads first, as (label, value) pairs; zero amounts are left out."""
    currency = terms.get("currency", "")
    out = []
    for name, label, unit in TERM_LABELS:
        value = terms.get(name)
        if value is not None and _nonzero(value):
            if unit == "%":
                out.append((label, f"{_plain(value)} %"))
            else:
                out.append((label, f"{value} {unit.format(currency=currency)}".strip()))
    for country, amount in sorted((terms.get("country_amounts") or {}).items()):
        out.append((f"CPA in {country}", f"{amount} {currency}"))
    qualification = [
        f"{QUALIFICATION_LABELS.get(k, k)} {v}" for k, v in (terms.get("qualification") or {}).items() if _nonzero(v)
    ]
    if qualification:
        out.append(("Qualification", ", ".join(qualification)))
    for tier in terms.get("tiers") or []:
        condition = ", ".join(
            f"{k.replace('min_', 'from ').replace('_', ' ')} {v}" for k, v in tier.items() if k.startswith("min_")
        )
        reward = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in tier.items() if not k.startswith("min_"))
        out.append(("Tier", f"{condition}: {reward}"))
    if terms.get("revshare_percent") and _nonzero(terms["revshare_percent"]):
        out.append(("Negative carry-over", "yes" if terms.get("negative_carryover") else "no"))
    out.append(("Hold", f"{terms.get('hold_days', 0)} days"))
    countries = terms.get("countries") or []
    out.append(("Countries", ", ".join(countries) if countries else "all"))
    return out

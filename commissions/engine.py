"""The rules: from canonical events to what each ledger slot should be worth. Nothing here writes.

`compute()` reads events as plain tuples and returns `Intended` values; commissions.ledger books
them. The same function serves one customer (a task per event) and a whole month (period close,
recalculation, the benchmark), so processing event by event and rebuilding in bulk agree.

Decisions written down once:
- A CPA is judged under the terms in force on the customer's FTD day (brand time zone); its
  baseline must be met within `window_days` of registration; it is paid once per (affiliate,
  customer, deal). Its tier rank is its place among the affiliate's CPAs of that month under the
  deal, in qualification order; a reversal does not move CPAs already booked.
- RevShare is computed per affiliate, brand and month (brand time zone) under the terms in force
  on the first day of the month (or, if the deal starts later, on the first day with revenue): a
  version that starts mid-month applies from the next month, so no change is ever retroactive.
  Each brand is its own slot, so negative revenue is ring-fenced per brand: it never reduces what
  the affiliate earned at another brand.
- Test events (is_test, or from a source in test mode) produce no entries at all: test traffic
  never reaches the ledger, so it can never be approved or paid.
- A rejected affiliate's entries are booked as rejected (kept for the record, never payable); a
  pending or suspended affiliate's entries are booked and held: the hold release skips them until
  the affiliate is active again.
- A sub-affiliate override is the parent's percent (from the parent's own deal at the brand, or
  else the child's deal) of each of the child's own commissions, one level up; a chain pays each
  link its direct parent.
"""

import datetime as dt
import json
import zoneinfo
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import NamedTuple

from django.conf import settings
from django.db.models import Q

from affiliates.choices import AffiliateStatus, DealKind, LotRounding, RevenueBasis, TierApplication
from core.money import quantize
from tracking.choices import EventStatus, EventType

from .choices import EntryKind

ZERO = Decimal("0")
HUNDRED = Decimal("100")
VOIDING_TYPES = (EventType.REFUND, EventType.CHARGEBACK)
REFERRING = {EventType.STATUS_UPDATE, EventType.REFUND, EventType.CHARGEBACK}
PROP_TYPES = {EventType.CHALLENGE_PURCHASE, EventType.RESET_FEE, EventType.CHALLENGE_PASS, EventType.FUNDED_ACTIVATION}

EVENT_FIELDS = (
    "id", "type", "status", "customer_id", "affiliate_id", "brand_id", "amount", "currency", "amount_base",
    "fx_rate", "occurred_at", "ref_event_id", "data", "is_test", "source__test_mode",
)  # fmt: skip


class Ev(NamedTuple):
    """A canonical event as the engine reads it."""

    id: int
    type: str
    status: str
    customer_id: int | None
    affiliate_id: int | None
    brand_id: int
    amount: Decimal | None
    currency: str
    amount_base: Decimal | None
    fx_rate: Decimal | None
    occurred_at: dt.datetime
    ref_event_id: int | None
    data: dict
    is_test: bool
    source_test: bool


class Cust(NamedTuple):
    id: int
    affiliate_id: int | None
    brand_id: int
    country: str
    registered_at: dt.datetime | None


@dataclass
class Intended:
    """What one slot of the ledger should be worth, and why."""

    slot: str
    kind: str
    affiliate_id: int
    brand_id: int
    customer_id: int | None
    deal_id: int | None
    deal_version_id: int | None
    amount: Decimal
    currency: str
    period: str
    occurred_at: dt.datetime
    hold_until: dt.datetime
    events: list[int]
    explanation: str
    pending: bool = False
    rejected_reason: str = ""
    auto_adjust: bool = False
    source_affiliate_id: int | None = None

    @property
    def quantized(self) -> Decimal:
        return quantize(self.amount, self.currency)

    @property
    def payable(self) -> Decimal:
        """What the slot's counted entries should sum to (a rejected entry counts nothing)."""
        return ZERO if self.rejected_reason else self.quantized


class MissingRate(Exception):
    pass


def _d(value, default=ZERO) -> Decimal:
    if value is None or value == "":
        return default
    return value if isinstance(value, Decimal) else Decimal(str(value))


def money(value: Decimal, currency: str) -> str:
    return f"{quantize(value, currency)} {currency}"


def num(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


class Terms:
    """A deal version merged with the affiliate's overrides, with Decimals parsed once."""

    def __init__(self, version, overrides: dict):
        self.version = version
        self.version_id = version.pk
        self.deal_id = version.deal_id
        raw = {name: getattr(version, name) for name in TERM_FIELDS}
        raw.update(overrides or {})
        self.overridden = sorted(overrides or {})
        self.name = version.name
        self.kind = version.kind
        self.currency = version.currency
        self.hold_days = int(raw["hold_days"] or 0)
        self.countries = list(raw["countries"] or [])
        self.cpa_amount = _d(raw["cpa_amount"])
        self.country_amounts = {str(k).upper(): _d(v) for k, v in (raw["country_amounts"] or {}).items()}
        q = raw["qualification"] or {}
        self.min_ftd = _d(q.get("min_ftd"))
        self.min_deposits = _d(q.get("min_deposits"))
        self.min_wagering = _d(q.get("min_wagering"))
        self.min_lots = _d(q.get("min_lots"))
        self.min_bets = int(q.get("min_bets") or 0)
        self.window_days = int(q.get("window_days") or 30)
        self.daily_cap = raw["cpa_daily_cap"]
        self.monthly_cap = raw["cpa_monthly_cap"]
        self.revshare_percent = _d(raw["revshare_percent"])
        self.revenue_basis = version.revenue_basis
        self.negative_carryover = bool(raw["negative_carryover"])
        self.tiers = [{k: (v if k == "min_ftds" else _d(v)) for k, v in t.items()} for t in raw["tiers"] or []]
        self.tier_application = version.tier_application
        self.cpl_amount = _d(raw["cpl_amount"])
        self.rebate_per_lot = _d(raw["rebate_per_lot"])
        self.groups = {}
        for group in raw["rebate_groups"] or []:
            spec = (group["name"], _d(group["per_lot"]), _d(group.get("lot_factor"), Decimal("1")))
            for instrument in group["instruments"]:
                self.groups[str(instrument).upper()] = spec
        self.lot_step = _d(version.lot_step, Decimal("0.01"))
        self.lot_rounding = version.lot_rounding
        self.prop_percent = _d(raw["prop_percent"])
        self.prop_pass_amount = _d(raw["prop_pass_amount"])
        self.prop_funded_amount = _d(raw["prop_funded_amount"])
        self.prop_include_resets = bool(version.prop_include_resets)
        self.subaffiliate_percent = _d(raw["subaffiliate_percent"])
        self.valid_from = version.valid_from
        self.valid_to = version.valid_to

    @property
    def label(self) -> str:
        text = f"{self.name} v{self.version.version}"
        if self.overridden:
            text += f" with your terms for {', '.join(self.overridden)}"
        return text

    @property
    def has_cpa(self) -> bool:
        return self.kind in (DealKind.CPA, DealKind.HYBRID)

    @property
    def has_revshare(self) -> bool:
        return self.kind in (DealKind.REVSHARE, DealKind.HYBRID)

    def covers(self, country: str) -> bool:
        return not self.countries or (country or "").upper() in self.countries

    def tier_for(self, *, ftds: int | None = None, revenue: Decimal | None = None, rate: str) -> dict | None:
        """The highest tier reached that sets `rate`."""
        best, best_key = None, None
        for tier in self.tiers:
            if rate not in tier:
                continue
            if "min_ftds" in tier and ftds is not None and ftds >= int(tier["min_ftds"]):
                key = Decimal(int(tier["min_ftds"]))
            elif "min_revenue" in tier and revenue is not None and revenue >= tier["min_revenue"]:
                key = tier["min_revenue"]
            else:
                continue
            if best_key is None or key >= best_key:
                best, best_key = tier, key
        return best


TERM_FIELDS = (
    "hold_days", "countries", "cpa_amount", "country_amounts", "qualification", "cpa_daily_cap", "cpa_monthly_cap",
    "revshare_percent", "negative_carryover", "tiers", "cpl_amount", "rebate_per_lot", "rebate_groups",
    "prop_percent", "prop_pass_amount", "prop_funded_amount", "subaffiliate_percent",
)  # fmt: skip


class Deals:
    """Which terms are in force for (affiliate, brand, day): the same rule as
    affiliates.selectors.deal_in_force, read once per brand so a month of events costs a few queries."""

    def __init__(self, brand_ids):
        from affiliates.models import Affiliate, Brand, DealAssignment, DealVersion

        from .models import BrandRevenueRule

        brand_ids = set(brand_ids)
        self.tz = {b.pk: zoneinfo.ZoneInfo(b.timezone) for b in Brand.objects.filter(pk__in=brand_ids)}
        self.assignments = defaultdict(list)
        deal_ids = set()
        for a in DealAssignment.objects.filter(brand_id__in=brand_ids).order_by("-valid_from", "-pk"):
            self.assignments[(a.brand_id, a.affiliate_id)].append(a)
            deal_ids.add(a.deal_id)
        self.versions = defaultdict(list)
        for v in DealVersion.objects.filter(deal_id__in=deal_ids).order_by("-version"):
            self.versions[v.deal_id].append(v)
        self.rules = {r.brand_id: r for r in BrandRevenueRule.objects.filter(brand_id__in=brand_ids)}
        self._affiliate_model = Affiliate
        self.affiliates: dict[int, dict] = {}
        self._cache: dict = {}
        self._terms: dict = {}
        self._last_period: dict = {}

    def local(self, brand_id: int, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.tz[brand_id])

    def period(self, brand_id: int, moment: dt.datetime) -> str:
        """The month (brand time zone) of `moment`; remembers the last month's bounds per brand, since
        events come mostly in time order."""
        hit = self._last_period.get(brand_id)
        if hit is not None and hit[0] <= moment < hit[1]:
            return hit[2]
        period = period_of(self.local(brand_id, moment))
        start, end = self.period_bounds(brand_id, period)
        self._last_period[brand_id] = (start, end, period)
        return period

    def period_bounds(self, brand_id: int, period: str) -> tuple[dt.datetime, dt.datetime]:
        year, month = int(period[:4]), int(period[5:7])
        tz = self.tz[brand_id]
        start = dt.datetime(year, month, 1, tzinfo=tz)
        end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)

    def _assignment(self, affiliate_id, brand_id, day):
        for owner in (affiliate_id, None):
            for a in self.assignments.get((brand_id, owner), ()):
                if a.valid_from <= day and (a.valid_to is None or a.valid_to >= day):
                    return a
        return None

    def terms(self, affiliate_id: int, brand_id: int, day: dt.date) -> Terms | None:
        key = (affiliate_id, brand_id, day)
        if key not in self._cache:
            self._cache[key] = self._resolve(affiliate_id, brand_id, day)
        return self._cache[key]

    def _resolve(self, affiliate_id, brand_id, day):
        assignment = self._assignment(affiliate_id, brand_id, day)
        if assignment is None:
            return None
        version = next((v for v in self.versions.get(assignment.deal_id, ()) if v.effective_from <= day), None)
        if version is None:
            return None
        if (version.valid_from and day < version.valid_from) or (version.valid_to and day > version.valid_to):
            return None
        key = (assignment.pk, version.pk)
        if key not in self._terms:
            self._terms[key] = Terms(version, assignment.overrides)
        return self._terms[key]

    def need(self, ids) -> None:
        """Read the status and parent of these affiliates (and of their parents) in one or two queries."""
        missing = {i for i in ids if i is not None and i not in self.affiliates}
        for _ in range(2):
            if not missing:
                return
            rows = self._affiliate_model.objects.filter(pk__in=sorted(missing))
            for row in rows.values("pk", "parent_id", "status", "status_reason"):
                self.affiliates[row["pk"]] = row
            missing = {r["parent_id"] for r in self.affiliates.values()} - set(self.affiliates) - {None}

    def _affiliate(self, affiliate_id: int) -> dict | None:
        if affiliate_id not in self.affiliates:
            self.need([affiliate_id])
        return self.affiliates.get(affiliate_id)

    def affiliate_status(self, affiliate_id: int) -> tuple[str, str]:
        row = self._affiliate(affiliate_id) or {"status": AffiliateStatus.ACTIVE, "status_reason": ""}
        return row["status"], row["status_reason"]

    def parent(self, affiliate_id: int) -> int | None:
        row = self._affiliate(affiliate_id)
        return row["parent_id"] if row else None


class Fx:
    """Converts event amounts into a deal's currency through the platform's base currency."""

    def __init__(self):
        self.base = settings.BASE_CURRENCY
        self._rates: dict[str, tuple[list, list]] = {}

    def _rate(self, currency: str, day: dt.date) -> Decimal:
        if currency not in self._rates:
            from integrations.models import FxRate

            rows = list(FxRate.objects.filter(currency=currency).order_by("date").values_list("date", "rate"))
            self._rates[currency] = ([r[0] for r in rows], [r[1] for r in rows])
        dates, rates = self._rates[currency]
        index = bisect_right(dates, day) - 1
        if index < 0:
            raise MissingRate(f"no {currency} rate on or before {day}")
        return rates[index]

    def to(self, ev: Ev, value: Decimal, currency: str, *, is_amount: bool = False) -> Decimal:
        """`value` (in the event's currency) in `currency`."""
        if not ev.currency or ev.currency == currency:
            return value
        if is_amount and ev.amount_base is not None:
            base = ev.amount_base
        elif ev.fx_rate is not None:
            base = value * ev.fx_rate
        elif ev.currency == self.base:
            base = value
        else:
            raise MissingRate(f"event {ev.id} has no FX rate")
        if currency == self.base:
            return base
        return base / self._rate(currency, ev.occurred_at.date())


def period_of(local: dt.datetime) -> str:
    return f"{local.year:04d}-{local.month:02d}"


def _hold(moment: dt.datetime, days: int) -> dt.datetime:
    return moment + dt.timedelta(days=days)


def _hold_text(terms: Terms, until: dt.datetime, deals: Deals, brand_id: int) -> str:
    if not terms.hold_days:
        return "no hold"
    return f"hold {terms.hold_days} days until {deals.local(brand_id, until).date().isoformat()}"


def _status_note(deals: Deals, affiliate_id: int) -> tuple[str, str]:
    """(rejected_reason, note for the explanation) from the affiliate's status."""
    status, reason = deals.affiliate_status(affiliate_id)
    if status == AffiliateStatus.REJECTED:
        return f"Affiliate rejected{': ' + reason if reason else ''}; not payable.", ""
    if status in (AffiliateStatus.SUSPENDED, AffiliateStatus.PENDING):
        return "", f" Held while the affiliate is {status}."
    return "", ""


@dataclass
class CpaCandidate:
    """A customer who met a CPA baseline; the rank among the month's CPAs decides tier and caps."""

    terms: Terms
    customer: Cust
    affiliate_id: int
    qualified_at: dt.datetime
    day: dt.date
    period: str
    base_amount: Decimal
    base_note: str
    proofs: list[str]
    events: list[int]
    pending: bool


@dataclass
class Scope:
    """What compute() returns: intended slots, plus the CPA candidates it ranked."""

    intended: list[Intended] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    voided: dict[int, str] = field(default_factory=dict)


def voided_ids(events: list[Ev], refs: list[Ev]) -> dict[int, str]:
    """Events that no longer count, with why: rejected, refunded or charged back (by a non-test event)."""
    voided = {e.id: "was rejected" for e in events if e.status == EventStatus.REJECTED}
    for r in refs:
        if r.type in VOIDING_TYPES and r.ref_event_id and not (r.is_test or r.source_test):
            voided[r.ref_event_id] = "was refunded" if r.type == EventType.REFUND else "was charged back"
    return voided


def _wagered(ev: Ev) -> Decimal:
    if "wagered" in (ev.data or {}):
        return _d(ev.data.get("wagered"))
    return ev.amount or ZERO if ev.type == EventType.BET else ZERO


def _any_pending(events: list[Ev], ids: set[int]) -> bool:
    return any(e.status == EventStatus.PENDING for e in events if e.id in ids)


def cpa_candidate(cust: Cust, events: list[Ev], deals: Deals, fx: Fx) -> CpaCandidate | None:
    ftd = next((e for e in events if e.type == EventType.FTD), None)
    if ftd is None:
        return None
    affiliate_id = ftd.affiliate_id or cust.affiliate_id
    local = deals.local(cust.brand_id, ftd.occurred_at)
    terms = deals.terms(affiliate_id, cust.brand_id, local.date())
    if terms is None or not terms.has_cpa or not terms.covers(cust.country):
        return None
    ccy = terms.currency
    ftd_amount = fx.to(ftd, ftd.amount or ZERO, ccy, is_amount=True)
    if ftd_amount < terms.min_ftd:
        return None
    start = cust.registered_at or events[0].occurred_at
    window_end = start + dt.timedelta(days=terms.window_days)
    deposits = wagering = lots = ZERO
    bets = 0
    used: list[int] = []
    for ev in events:
        if ev.occurred_at > window_end:
            break
        counted = False
        if ev.type in (EventType.FTD, EventType.DEPOSIT):
            deposits += fx.to(ev, ev.amount or ZERO, ccy, is_amount=True)
            counted = True
        wager = _wagered(ev)
        if wager:
            wagering += fx.to(ev, wager, ccy)
            counted = True
        if ev.type == EventType.BET:
            bets += 1
            counted = True
        if ev.type == EventType.TRADE:
            lots += _d((ev.data or {}).get("lots"))
            counted = True
        if counted:
            used.append(ev.id)
        met = (
            ev.occurred_at >= ftd.occurred_at
            and deposits >= terms.min_deposits
            and wagering >= terms.min_wagering
            and lots >= terms.min_lots
            and bets >= terms.min_bets
        )
        if met:
            proofs = [f"FTD {money(ftd_amount, ccy)} ≥ {money(terms.min_ftd, ccy)} minimum"]
            if terms.min_deposits:
                proofs.append(f"deposits {money(deposits, ccy)} ≥ {money(terms.min_deposits, ccy)}")
            if terms.min_wagering:
                proofs.append(f"wagering {money(wagering, ccy)} ≥ {money(terms.min_wagering, ccy)}")
            if terms.min_lots:
                proofs.append(f"{num(lots)} lots ≥ {num(terms.min_lots)}")
            if terms.min_bets:
                proofs.append(f"{bets} bets ≥ {terms.min_bets}")
            country = (cust.country or "").upper()
            if country in terms.country_amounts:
                base, note = terms.country_amounts[country], f"the {country} amount"
            else:
                base, note = terms.cpa_amount, "the deal amount"
            qualified_local = deals.local(cust.brand_id, ev.occurred_at)
            return CpaCandidate(
                terms=terms, customer=cust, affiliate_id=affiliate_id, qualified_at=ev.occurred_at,
                day=qualified_local.date(), period=period_of(qualified_local), base_amount=base, base_note=note,
                proofs=proofs, events=sorted(set(used) | {ftd.id}),
                pending=_any_pending(events, set(used) | {ftd.id}),
            )  # fmt: skip
    return None


class CpaCounter:
    """Counts the CPAs an affiliate already has under a deal in a month and on a day (for tiers and
    caps). In bulk it starts empty and counts as it goes; for one customer it is seeded from the ledger."""

    def __init__(self, seed=None):
        self.month: dict = defaultdict(int)
        self.day: dict = defaultdict(int)
        self.seed = seed

    def prior(self, c: CpaCandidate) -> tuple[int, int]:
        if self.seed is not None:
            return self.seed(c)
        return self.month[(c.affiliate_id, c.terms.deal_id, c.period)], self.day[
            (c.affiliate_id, c.terms.deal_id, c.day)
        ]

    def add(self, c: CpaCandidate) -> None:
        self.month[(c.affiliate_id, c.terms.deal_id, c.period)] += 1
        self.day[(c.affiliate_id, c.terms.deal_id, c.day)] += 1


def resolve_cpa(c: CpaCandidate, counter: CpaCounter, deals: Deals) -> Intended:
    t, ccy = c.terms, c.terms.currency
    in_month, in_day = counter.prior(c)
    rejected = ""
    if t.monthly_cap is not None and in_month >= t.monthly_cap:
        rejected = f"Monthly CPA cap of {t.monthly_cap} reached."
    elif t.daily_cap is not None and in_day >= t.daily_cap:
        rejected = f"Daily CPA cap of {t.daily_cap} reached."
    rank = in_month + 1
    amount, how = c.base_amount, c.base_note
    if not rejected:
        counter.add(c)
        if t.tier_application == TierApplication.FROM_REACHED:
            tier = t.tier_for(ftds=rank, rate="cpa_amount")
            if tier is not None:
                amount, how = (
                    tier["cpa_amount"],
                    f"tier of {tier['min_ftds']}+ FTDs reached (CPA #{rank} in {c.period})",
                )
    status_reject, note = _status_note(deals, c.affiliate_id)
    rejected = rejected or status_reject
    hold_until = _hold(c.qualified_at, t.hold_days)
    text = (
        f"CPA {money(amount, ccy)} ({how}): {', '.join(c.proofs)}, qualified on {c.day.isoformat()} under {t.label}; "
        f"{_hold_text(t, hold_until, deals, c.customer.brand_id)}.{note}"
    )
    if rejected:
        text += f" Not paid: {rejected}"
    return Intended(
        slot=f"cpa:{c.affiliate_id}:{c.customer.id}:{t.deal_id}", kind=EntryKind.CPA, affiliate_id=c.affiliate_id,
        brand_id=c.customer.brand_id, customer_id=c.customer.id, deal_id=t.deal_id, deal_version_id=t.version_id,
        amount=amount, currency=ccy, period=c.period, occurred_at=c.qualified_at, hold_until=hold_until,
        events=c.events, explanation=text, pending=c.pending, rejected_reason=rejected,
    )  # fmt: skip


def _lots(terms: Terms, raw: Decimal) -> Decimal:
    step = terms.lot_step
    if terms.lot_rounding == LotRounding.NONE:
        return raw
    mode = ROUND_FLOOR if terms.lot_rounding == LotRounding.DOWN else ROUND_HALF_EVEN
    return (raw / step).to_integral_value(rounding=mode) * step


def event_intended(cust: Cust, ev: Ev, deals: Deals, fx: Fx) -> Intended | None:
    """The per-event commissions: CPL on a registration, a rebate on a trade, prop fees and bonuses."""
    affiliate_id = ev.affiliate_id or cust.affiliate_id
    local = deals.local(cust.brand_id, ev.occurred_at)
    terms = deals.terms(affiliate_id, cust.brand_id, local.date())
    if terms is None:
        return None
    ccy, day = terms.currency, local.date().isoformat()
    if ev.type == EventType.REGISTRATION and terms.kind == DealKind.CPL and terms.covers(cust.country):
        kind, slot, amount = EntryKind.CPL, f"cpl:{affiliate_id}:{cust.id}:{terms.deal_id}", terms.cpl_amount
        why = f"CPL {money(amount, ccy)}: registration on {day} under {terms.label}"
    elif ev.type == EventType.TRADE and terms.kind == DealKind.REBATE:
        data = ev.data or {}
        instrument = str(data.get("instrument") or "").upper()
        raw = _d(data.get("lots"))
        group = terms.groups.get(instrument)
        if group is None:
            name, per_lot, factor = "default", terms.rebate_per_lot, Decimal("1")
        else:
            name, per_lot, factor = group
        counted = _lots(terms, raw * factor)
        amount = counted * per_lot
        if not amount:
            return None
        rounding = {LotRounding.DOWN: "rounded down", LotRounding.HALF_EVEN: "rounded half-even"}.get(
            terms.lot_rounding, "not rounded"
        )
        kind, slot = EntryKind.REBATE, f"rebate:{ev.id}:{affiliate_id}"
        why = (
            f"Rebate {money(amount, ccy)}: {num(raw)} lots {instrument or 'unknown instrument'} on {day}, group "
            f"{name} × {num(factor)} = {num(raw * factor)} lots, {rounding} to step {num(terms.lot_step)} = "
            f"{num(counted)} lots × {money(per_lot, ccy)} per lot under {terms.label}"
        )
    elif ev.type in PROP_TYPES and terms.kind == DealKind.PROP:
        kind, slot = EntryKind.PROP, f"prop:{ev.id}:{affiliate_id}"
        if ev.type in (EventType.CHALLENGE_PURCHASE, EventType.RESET_FEE):
            if ev.type == EventType.RESET_FEE and not terms.prop_include_resets:
                return None
            fee = fx.to(ev, ev.amount or ZERO, ccy, is_amount=True)
            amount = fee * terms.prop_percent / HUNDRED
            label = "challenge purchase" if ev.type == EventType.CHALLENGE_PURCHASE else "reset fee"
            why = f"Prop {money(amount, ccy)}: {num(terms.prop_percent)}% of {label} {money(fee, ccy)} on {day}"
        elif ev.type == EventType.CHALLENGE_PASS:
            amount = terms.prop_pass_amount
            why = f"Prop {money(amount, ccy)}: challenge passed on {day}"
        else:
            amount = terms.prop_funded_amount
            why = f"Prop {money(amount, ccy)}: funded account activated on {day}"
        if not amount:
            return None
        why += f" under {terms.label}"
    else:
        return None
    rejected, note = _status_note(deals, affiliate_id)
    hold_until = _hold(ev.occurred_at, terms.hold_days)
    text = f"{why}; {_hold_text(terms, hold_until, deals, cust.brand_id)}.{note}"
    if rejected:
        text += f" Not paid: {rejected}"
    return Intended(
        slot=slot, kind=kind, affiliate_id=affiliate_id, brand_id=cust.brand_id, customer_id=cust.id,
        deal_id=terms.deal_id, deal_version_id=terms.version_id, amount=amount, currency=ccy,
        period=period_of(local), occurred_at=ev.occurred_at, hold_until=hold_until, events=[ev.id], explanation=text,
        pending=ev.status == EventStatus.PENDING, rejected_reason=rejected,
    )  # fmt: skip


def revenue_of(ev: Ev, terms: Terms, deals: Deals, fx: Fx) -> Decimal:
    """The revenue an event counts for, in the deal's currency, by the deal's basis."""
    ccy = terms.currency
    rule = deals.rules.get(ev.brand_id)
    data = ev.data or {}
    if terms.revenue_basis == RevenueBasis.NET_REVENUE and rule is not None and "ggr" in data:
        value = _d(data.get("ggr")) * rule.tax_factor
        if rule.deduct_bonuses:
            value -= _d(data.get("bonus"))
        if rule.deduct_payment_fees:
            value -= _d(data.get("payment_fees"))
        return fx.to(ev, value, ccy)
    return fx.to(ev, ev.amount or ZERO, ccy, is_amount=True)


def revshare_intended(
    *, affiliate_id: int, brand_id: int, by_period: dict, ftds: dict, periods: set[str], deals: Deals, fx: Fx
) -> list[Intended]:
    """RevShare for each closed period in `periods`; `by_period` holds every period's revenue events of
    this affiliate at this brand up to the last one (earlier ones feed the negative carryover)."""
    out: list[Intended] = []
    carry, carry_ccy = ZERO, None
    for period in sorted(by_period):
        events = by_period[period]
        start, end = deals.period_bounds(brand_id, period)
        first_local = deals.local(brand_id, start).date()
        terms = deals.terms(affiliate_id, brand_id, first_local)
        if terms is None or not terms.has_revshare:
            terms = deals.terms(affiliate_id, brand_id, deals.local(brand_id, events[0].occurred_at).date())
        if terms is None or not terms.has_revshare:
            carry, carry_ccy = ZERO, None
            continue
        ccy = terms.currency
        if carry_ccy not in (None, ccy):
            carry = ZERO
        revenue = sum((revenue_of(e, terms, deals, fx) for e in events), ZERO)
        n_ftds = ftds.get(period, 0)
        tier = terms.tier_for(ftds=n_ftds, revenue=revenue, rate="revshare_percent")
        percent = tier["revshare_percent"] if tier else terms.revshare_percent
        carried_in = carry if terms.negative_carryover else ZERO
        base = revenue + carried_in
        amount = base * percent / HUNDRED if base > 0 else ZERO
        carry = min(base, ZERO) if terms.negative_carryover else ZERO
        carry_ccy = ccy
        if period not in periods:
            continue
        parts = [f"RevShare {money(amount, ccy)} for {period}: revenue {money(revenue, ccy)}"]
        if carried_in:
            parts.append(f" − {money(-carried_in, ccy)} negative carried from earlier months")
        parts.append(f" × {num(percent)}%")
        if tier:
            threshold = (
                f"{tier['min_ftds']} FTDs" if "min_ftds" in tier else f"revenue {money(tier['min_revenue'], ccy)}"
            )
            parts.append(f" (tier of {threshold} reached)")
        if base <= 0:
            parts.append(
                f"; nothing due, {money(-base, ccy)} carried into the next month"
                if terms.negative_carryover and base < 0
                else "; nothing due, a negative month resets to zero"
            )
        hold_until = _hold(end, terms.hold_days)
        rejected, note = _status_note(deals, affiliate_id)
        text = f"{''.join(parts)} under {terms.label}; {_hold_text(terms, hold_until, deals, brand_id)}.{note}"
        if rejected:
            text += f" Not paid: {rejected}"
        out.append(
            Intended(
                slot=f"revshare:{affiliate_id}:{brand_id}:{period}",
                kind=EntryKind.REVSHARE,
                affiliate_id=affiliate_id,
                brand_id=brand_id,
                customer_id=None,
                deal_id=terms.deal_id,
                deal_version_id=terms.version_id,
                amount=amount,
                currency=ccy,
                period=period,
                occurred_at=end - dt.timedelta(microseconds=1),
                hold_until=hold_until,
                events=sorted(e.id for e in events),
                explanation=text,
                pending=any(e.status == EventStatus.PENDING for e in events),
                rejected_reason=rejected,
                auto_adjust=True,
            )
        )
    return out


def tier_adjustments(cpas: list[Intended], terms_of: dict, periods: set[str], deals: Deals) -> list[Intended]:
    """Whole-period tiers: at period close, lift every CPA of the month to the tier the month reached."""
    groups: dict = defaultdict(list)
    for item in cpas:
        terms = terms_of[item.slot]
        if item.rejected_reason or terms.tier_application != TierApplication.WHOLE_PERIOD:
            continue
        if item.period in periods:
            groups[(item.affiliate_id, terms.deal_id, item.period)].append((item, terms))
    out = []
    for (affiliate_id, deal_id, period), items in groups.items():
        last = max(items, key=lambda pair: pair[0].occurred_at)
        terms = last[1]
        tier = terms.tier_for(ftds=len(items), rate="cpa_amount")
        if tier is None:
            continue
        lift = sum((max(tier["cpa_amount"] - item.amount, ZERO) for item, _ in items), ZERO)
        if not lift:
            continue
        ccy, brand_id = terms.currency, last[0].brand_id
        _, end = deals.period_bounds(brand_id, period)
        hold_until = _hold(end, terms.hold_days)
        rejected, note = _status_note(deals, affiliate_id)
        text = (
            f"CPA tier adjustment {money(lift, ccy)} for {period}: {len(items)} CPAs reached the tier of "
            f"{tier['min_ftds']}+ FTDs, so each is paid {money(tier['cpa_amount'], ccy)} for the whole month "
            f"under {terms.label}; {_hold_text(terms, hold_until, deals, brand_id)}.{note}"
        )
        out.append(
            Intended(
                slot=f"cpa-tier:{affiliate_id}:{deal_id}:{period}",
                kind=EntryKind.ADJUSTMENT,
                affiliate_id=affiliate_id,
                brand_id=brand_id,
                customer_id=None,
                deal_id=deal_id,
                deal_version_id=terms.version_id,
                amount=lift,
                currency=ccy,
                period=period,
                occurred_at=end - dt.timedelta(microseconds=1),
                hold_until=hold_until,
                events=sorted(e for item, _ in items for e in item.events),
                explanation=text,
                pending=any(item.pending for item, _ in items),
                rejected_reason=rejected,
                auto_adjust=True,
            )
        )
    return out


def sub_intended(child: Intended, deals: Deals) -> Intended | None:
    """The parent's override on one of the child's own commissions."""
    parent_id = deals.parent(child.affiliate_id)
    if parent_id is None or child.kind == EntryKind.SUBAFFILIATE or child.rejected_reason:
        return None
    day = deals.local(child.brand_id, child.occurred_at).date()
    parent_terms = deals.terms(parent_id, child.brand_id, day)
    child_terms = deals.terms(child.affiliate_id, child.brand_id, day)
    if parent_terms is not None and parent_terms.subaffiliate_percent:
        terms, whose = parent_terms, "your"
    elif child_terms is not None and child_terms.subaffiliate_percent:
        terms, whose = child_terms, "the sub-affiliate's deal"
    else:
        return None
    percent = terms.subaffiliate_percent
    base = child.quantized
    amount = base * percent / HUNDRED
    if not amount:
        return None
    rejected, note = _status_note(deals, parent_id)
    text = (
        f"Sub-affiliate override {money(amount, child.currency)}: {num(percent)}% ({whose} terms, {terms.label}) of "
        f"sub-affiliate #{child.affiliate_id}'s {child.kind} commission {money(base, child.currency)} "
        f"for {child.period}.{note}"
    )
    if rejected:
        text += f" Not paid: {rejected}"
    return Intended(
        slot=f"sub:{parent_id}:{child.slot}", kind=EntryKind.SUBAFFILIATE, affiliate_id=parent_id,
        brand_id=child.brand_id, customer_id=child.customer_id, deal_id=terms.deal_id,
        deal_version_id=terms.version_id, amount=amount, currency=child.currency, period=child.period,
        occurred_at=child.occurred_at, hold_until=child.hold_until, events=child.events, explanation=text,
        pending=child.pending, rejected_reason=rejected, auto_adjust=child.auto_adjust,
        source_affiliate_id=child.affiliate_id,
    )  # fmt: skip


def compute(
    *,
    events: list[Ev],
    refs: list[Ev],
    customers: dict[int, Cust],
    deals: Deals,
    fx: Fx,
    closed_periods: set[str] | None = None,
    cpa_counter: CpaCounter | None = None,
) -> Scope:
    """Every slot the given events pay for. `events` are all events of the customers in scope (any
    order); `refs` the refunds/chargebacks that point at them. RevShare and whole-period tiers are
    computed only for `closed_periods` (None: none)."""
    scope = Scope()
    deals.need({e.affiliate_id for e in events} | {c.affiliate_id for c in customers.values()})
    voided = scope.voided = voided_ids(events, refs)
    live = sorted(
        (e for e in events if not (e.is_test or e.source_test) and e.id not in voided and e.type not in REFERRING),
        key=lambda e: (e.occurred_at, e.id),
    )
    by_customer: dict[int, list[Ev]] = defaultdict(list)
    for ev in live:
        if ev.customer_id is not None:
            by_customer[ev.customer_id].append(ev)
    candidates: list[CpaCandidate] = []
    for customer_id, evs in by_customer.items():
        cust = customers[customer_id]
        if (evs[0].affiliate_id or cust.affiliate_id) is None:
            continue
        try:
            candidate = cpa_candidate(cust, evs, deals, fx)
        except MissingRate as exc:
            scope.skipped.append(f"customer {customer_id}: {exc}")
            candidate = None
        if candidate is not None:
            candidates.append(candidate)
        for ev in evs:
            if ev.type in (EventType.REGISTRATION, EventType.TRADE) or ev.type in PROP_TYPES:
                try:
                    item = event_intended(cust, ev, deals, fx)
                except MissingRate as exc:
                    scope.skipped.append(f"event {ev.id}: {exc}")
                    continue
                if item is not None:
                    scope.intended.append(item)
    counter = cpa_counter or CpaCounter()
    cpas, terms_of = [], {}
    for c in sorted(candidates, key=lambda c: (c.qualified_at, c.customer.id)):
        item = resolve_cpa(c, counter, deals)
        cpas.append(item)
        terms_of[item.slot] = c.terms
    scope.intended.extend(cpas)
    if closed_periods:
        scope.intended.extend(tier_adjustments(cpas, terms_of, closed_periods, deals))
        scope.intended.extend(_revshare_all(live, customers, deals, fx, closed_periods, scope))
    scope.intended.extend(s for s in (sub_intended(i, deals) for i in list(scope.intended)) if s is not None)
    return scope


def _revshare_all(live, customers, deals, fx, closed_periods, scope) -> list[Intended]:
    revenue: dict = defaultdict(lambda: defaultdict(list))
    ftds: dict = defaultdict(lambda: defaultdict(int))
    last_closed = max(closed_periods)
    for ev in live:
        if ev.type not in (EventType.REVENUE, EventType.FTD):
            continue
        affiliate_id = ev.affiliate_id or (customers[ev.customer_id].affiliate_id if ev.customer_id else None)
        if affiliate_id is None:
            continue
        period = deals.period(ev.brand_id, ev.occurred_at)
        if period > last_closed:
            continue
        if ev.type == EventType.REVENUE:
            revenue[(affiliate_id, ev.brand_id)][period].append(ev)
        else:
            ftds[(affiliate_id, ev.brand_id)][period] += 1
    out = []
    for (affiliate_id, brand_id), by_period in revenue.items():
        try:
            out.extend(
                revshare_intended(
                    affiliate_id=affiliate_id,
                    brand_id=brand_id,
                    by_period=by_period,
                    ftds=ftds[(affiliate_id, brand_id)],
                    periods=closed_periods,
                    deals=deals,
                    fx=fx,
                )
            )
        except MissingRate as exc:
            scope.skipped.append(f"revshare {affiliate_id}@{brand_id}: {exc}")
    return out


def _moment(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def load_events(queryset) -> list[Ev]:
    """Events as tuples. Times and JSON come as text and are parsed here: on a month of events the
    database driver's per-value converters would cost more than the whole computation."""
    from django.db.models import TextField
    from django.db.models.functions import Cast

    fields = [f for f in EVENT_FIELDS if f not in ("occurred_at", "data")]
    rows = queryset.annotate(_at=Cast("occurred_at", TextField()), _data=Cast("data", TextField())).values_list(
        *fields, "_at", "_data"
    )
    at_index = EVENT_FIELDS.index("occurred_at")
    data_index = EVENT_FIELDS.index("data")
    out = []
    loads = json.loads
    for row in rows.iterator(chunk_size=20000):
        values = list(row[:-2])
        data = row[-1]
        values.insert(at_index, _moment(row[-2]))
        values.insert(data_index, loads(data, parse_float=Decimal) if data and data != "{}" else {})
        out.append(Ev(*values))
    return out


def load_customers(queryset) -> dict[int, Cust]:
    """Customers of a queryset (or a list of ids) as tuples."""
    from django.db.models import TextField
    from django.db.models.functions import Cast

    from tracking.models import Customer

    if not hasattr(queryset, "values_list"):
        queryset = Customer.objects.filter(pk__in=list(queryset))
    rows = queryset.annotate(_at=Cast("registered_at", TextField())).values_list(
        "id", "affiliate_id", "brand_id", "country", "_at"
    )
    return {row[0]: Cust(*row[:4], _moment(row[4]) if row[4] else None) for row in rows.iterator(chunk_size=20000)}


def refs_of(event_filter: Q) -> list[Ev]:
    """Refunds and chargebacks pointing at the events the filter selects."""
    from tracking.models import ConversionEvent

    inner = ConversionEvent.objects.filter(event_filter).values("pk")
    return load_events(ConversionEvent.objects.filter(type__in=VOIDING_TYPES, ref_event_id__in=inner))

"""The rules per deal kind: from one customer's events (or an affiliate's month) to Intended slots."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from affiliates.choices import AffiliateStatus, DealKind, LotRounding, RevenueBasis, TierApplication
from core.money import quantize
from tracking.choices import EventStatus, EventType

from ..choices import EntryKind
from .reading import VOIDING_TYPES, Cust, Ev
from .terms import HUNDRED, ZERO, Deals, Fx, Terms, dec, money, num, period_of

PROP_TYPES = {EventType.CHALLENGE_PURCHASE, EventType.RESET_FEE, EventType.CHALLENGE_PASS, EventType.FUNDED_ACTIVATION}


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


def voided_ids(events: list[Ev], refs: list[Ev]) -> dict[int, str]:
    """Events that no longer count, with why: rejected, refunded or charged back (by a non-test event)."""
    voided = {e.id: "was rejected" for e in events if e.status == EventStatus.REJECTED}
    for r in refs:
        if r.type in VOIDING_TYPES and r.ref_event_id and not (r.is_test or r.source_test):
            voided[r.ref_event_id] = "was refunded" if r.type == EventType.REFUND else "was charged back"
    return voided


def _wagered(ev: Ev) -> Decimal:
    if "wagered" in (ev.data or {}):
        return dec(ev.data.get("wagered"))
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
            lots += dec((ev.data or {}).get("lots"))
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
                    f"tier of {tier['min_ftds']}+ FTDs reached: CPA #{rank} of {c.period}",
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
        raw = dec(data.get("lots"))
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
        value = dec(data.get("ggr")) * rule.tax_factor
        if rule.deduct_bonuses:
            value -= dec(data.get("bonus"))
        if rule.deduct_payment_fees:
            value -= dec(data.get("payment_fees"))
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

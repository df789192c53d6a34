"""compute(): every slot a set of events pays for."""

from collections import defaultdict
from dataclasses import dataclass, field

from tracking.choices import EventType

from .reading import REFERRING, Cust, Ev
from .rules import (
    PROP_TYPES,
    CpaCandidate,
    CpaCounter,
    Intended,
    cpa_candidate,
    event_intended,
    resolve_cpa,
    revshare_intended,
    sub_intended,
    tier_adjustments,
    voided_ids,
)
from .terms import Deals, Fx, MissingRate


@dataclass
class Scope:
    """What compute() returns: intended slots, plus the CPA candidates it ranked."""

    intended: list[Intended] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    voided: dict[int, str] = field(default_factory=dict)


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

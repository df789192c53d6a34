"""Re-running attribution for customers credited to nobody, after a manager fixed the cause.

A customer stays unattributed when none of its hints resolved (see `attribution.hints_evaluate` and the
AttributionMiss rows that say why). Once the cause is fixed (a link re-enabled, a promo code created or
re-activated, a brand's window widened), `customers_reattribute` evaluates the hints of the customer's events
again, in the order they happened, under the same rules as ingestion: the first event whose hints resolve
attributes the customer. A dry run answers who would move to whom and writes nothing.

Applying it is audited (a CustomerReassignment row: from nobody to the affiliate, the manager, the reason and
the misses it replaced), announced (`customer.attributed`), gives the customer's unattributed events their
affiliate and hands every one of the customer's events to the commission engine on commit, which books what
the affiliate's deal says. Attributed customers are never moved here (first touch stands; `customer_reassign`
is the manager's tool for that), and a customer with a paid commission entry is refused: a re-run never
reaches back past a paid statement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q

from affiliates.models import Affiliate
from integrations.webhooks.outbox import outbox_publish_many
from reports.upkeep import rollups_mark_customer

from .attribution import (
    CustomerClaim,
    Resolution,
    _apply,
    _HintLookup,
    customer_attributed_payload,
    hints_evaluate,
)
from .choices import AttributionMethod
from .events import _enqueue_commissions
from .models import AttributionMiss, ConversionEvent, Customer, CustomerReassignment

MAX_CUSTOMERS = 1000
REASON_LENGTH = 500


class Action:
    ATTRIBUTE = "attribute"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    REFUSED = "refused"


@dataclass
class Plan:
    """What a re-run does (or would do) to one customer."""

    customer: Customer
    action: str
    detail: str
    to_affiliate: Affiliate | None = None
    resolution: Resolution | None = None
    event: ConversionEvent | None = None
    misses: list[AttributionMiss] = field(default_factory=list)
    from_affiliate_id: int | None = None
    from_misses: bool = False  # evaluated from its misses alone (no stored event carried its hints)

    def __post_init__(self):
        self.from_affiliate_id = self.customer.affiliate_id

    @property
    def method(self) -> str | None:
        return self.resolution.method if self.resolution else None

    @property
    def value(self) -> str | None:
        return self.resolution.value if self.resolution else None


def _paid_counts(customer_ids: list[int]) -> dict[int, int]:
    from commissions.choices import EntryStatus
    from commissions.models import CommissionEntry

    rows = (
        CommissionEntry.objects.filter(customer_id__in=customer_ids, status=EntryStatus.PAID)
        .values_list("customer_id")
        .annotate(n=Count("pk"))
    )
    return dict(rows)


def _plans(customers: list[Customer]) -> list[Plan]:
    """Evaluate each customer's hints again against today's links, clicks, promo codes and windows."""
    paid = _paid_counts([c.pk for c in customers])
    open_ = [c for c in customers if c.affiliate_id is None and not paid.get(c.pk)]
    events: dict[int, list[ConversionEvent]] = {}
    bare: list[int] = []
    if open_:
        queryset = (
            ConversionEvent.objects.filter(customer_id__in=[c.pk for c in open_])
            .exclude(hints={})
            .only("pk", "customer_id", "hints", "occurred_at", "source_id", "inbound_id", "brand_id")
            .order_by("occurred_at", "pk")
        )
        for event in queryset:
            events.setdefault(event.customer_id, []).append(event)
        # A customer resolved without a stored event (a service call, an import) has only its misses: each one
        # is the hint it carried and when, enough to evaluate it again.
        bare = [c.pk for c in open_ if c.pk not in events]
        for miss in AttributionMiss.objects.filter(customer_id__in=bare).exclude(hint="sub_ids").order_by("pk"):
            events.setdefault(miss.customer_id, []).append(
                ConversionEvent(
                    customer_id=miss.customer_id, hints={miss.hint: miss.value}, occurred_at=miss.occurred_at,
                    source_id=miss.source_id, inbound_id=miss.inbound_id,
                )
            )  # fmt: skip
        for found in events.values():
            found.sort(key=lambda e: e.occurred_at)
    claims = [
        CustomerClaim(brand=c.brand, external_id=c.external_id, hints=e.hints, occurred_at=e.occurred_at)
        for c in open_
        for e in events.get(c.pk, [])
    ]
    lookup = _HintLookup(claims)
    plans = []
    for customer in customers:
        if customer.affiliate_id is not None:
            how = customer.get_attribution_method_display().lower()
            plans.append(
                Plan(
                    customer,
                    Action.SKIPPED,
                    f"Already attributed to {customer.affiliate} ({how}); a re-run never moves an attributed "
                    "customer (reassign it instead).",
                )
            )
            continue
        if paid.get(customer.pk):
            plans.append(
                Plan(
                    customer,
                    Action.REFUSED,
                    f"Has {paid[customer.pk]} paid commission entries: a re-run never reaches back past a paid "
                    "statement (reassign it instead, with a reason, if it must move).",
                )
            )
            continue
        plan = Plan(customer, Action.UNCHANGED, "No hint of its events resolves today.")
        plan.from_misses = customer.pk in bare
        seen: set[tuple[str, str]] = set()
        for event in events.get(customer.pk, []):
            resolution, misses = hints_evaluate(lookup, customer.brand, event.hints, event.occurred_at)
            for miss in misses:
                if (miss.hint, miss.value) not in seen:
                    seen.add((miss.hint, miss.value))
                    miss.customer, miss.source_id, miss.inbound_id = customer, event.source_id, event.inbound_id
                    plan.misses.append(miss)
            if resolution is not None:
                plan.action, plan.resolution, plan.event = Action.ATTRIBUTE, resolution, event
                plan.to_affiliate = resolution.affiliate
                label = AttributionMethod(resolution.method).label.lower()
                plan.detail = (
                    f"Would be attributed to {resolution.affiliate} (#{resolution.affiliate.pk}) by {label} "
                    f"{resolution.value!r} of the event of {event.occurred_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC."
                )
                break
        if plan.action == Action.UNCHANGED and not events.get(customer.pk):
            plan.detail = "None of its events carried an attribution hint."
        plans.append(plan)
    return plans


def _selected(customers) -> list[Customer]:
    ids = sorted({c.pk if isinstance(c, Customer) else int(c) for c in customers})
    if not ids:
        raise ValidationError({"customers": "Select at least one customer."})
    if len(ids) > MAX_CUSTOMERS:
        raise ValidationError({"customers": f"At most {MAX_CUSTOMERS} customers per re-run."})
    return ids


def customers_reattribute_plan(*, customers) -> list[Plan]:
    """The dry run: what a re-run would do to each customer (customers or ids), writing nothing."""
    ids = _selected(customers)
    return _plans(list(Customer.objects.select_related("brand", "affiliate").filter(pk__in=ids).order_by("pk")))


def customers_reattribute(*, customers, reason: str, by=None, actor: str = "") -> list[Plan]:
    """Re-run attribution for these unattributed customers and apply it; the plan of each, as applied.

    Every customer is locked (in pk order) and evaluated again under the lock, so what is applied is what
    the rules say at that moment, whatever a dry run said earlier. `by` is the manager (a user); `actor` names
    who asked when it is no user (an API key), and is kept in the audit row too.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "A reason is required to re-run attribution (it is kept in the audit)."})
    if len(reason) > REASON_LENGTH - 30:
        raise ValidationError({"reason": f"At most {REASON_LENGTH - 30} characters."})
    ids = _selected(customers)
    with transaction.atomic():
        locked = list(
            Customer.objects.select_for_update(of=("self",)).select_related("brand", "affiliate").filter(pk__in=ids)
        )
        locked.sort(key=lambda c: c.pk)
        plans = _plans(locked)
        evaluated = [p for p in plans if p.action in (Action.ATTRIBUTE, Action.UNCHANGED)]
        previous = {
            customer_id: [{"hint": h, "value": v, "reason": r} for _, h, v, r in rows]
            for customer_id, rows in _misses_by_customer([p.customer.pk for p in evaluated]).items()
        }
        # The misses now say what today's evaluation says (a fixed cause no longer shows as the reason).
        # (Sub ids alone are not evaluated again from misses: those misses stay as they are.)
        AttributionMiss.objects.filter(customer_id__in=[p.customer.pk for p in evaluated]).exclude(
            customer_id__in=[p.customer.pk for p in evaluated if p.from_misses], hint="sub_ids"
        ).delete()
        AttributionMiss.objects.bulk_create([m for p in evaluated for m in p.misses], ignore_conflicts=True)
        announcements, event_ids = [], []
        for plan in plans:
            if plan.action != Action.ATTRIBUTE:
                continue
            customer = plan.customer
            CustomerReassignment.objects.create(
                customer=customer,
                from_affiliate=None,
                to_affiliate=plan.to_affiliate,
                reason=f"Attribution re-run: {reason}"[:REASON_LENGTH],
                changed_by=by,
                previous={
                    "attribution_method": customer.attribution_method,
                    "rerun": True,
                    "actor": actor or (str(by) if by is not None else ""),
                    "method": plan.method,
                    "value": plan.value,
                    "event": plan.event.pk,  # None when re-run from the misses alone
                    "misses": previous.get(customer.pk, []),
                },
            )
            _apply(customer, plan.resolution, plan.event.hints, plan.event.occurred_at)
            customer.save(
                update_fields=[
                    "affiliate", "attribution_method", "click", "link", "promo_code", "attributed_at",
                    "sub1", "sub2", "sub3", "sub4", "sub5",
                ]
            )  # fmt: skip
            ConversionEvent.objects.filter(customer_id=customer.pk, affiliate__isnull=True).update(
                affiliate=plan.to_affiliate
            )
            rollups_mark_customer(customer=customer, affiliate_ids=[plan.to_affiliate.pk])
            announcements.append(
                {
                    "type": "customer.attributed",
                    "data": customer_attributed_payload(customer),
                    "affiliate_id": customer.affiliate_id,
                    "brand_id": customer.brand_id,
                }
            )
            event_ids += list(
                ConversionEvent.objects.filter(customer_id=customer.pk)
                .order_by("occurred_at", "pk")
                .values_list("pk", flat=True)
            )
        outbox_publish_many(items=announcements)
        # After commit, as ingestion does: the engine books what the deal says for every event of the customer.
        _enqueue_commissions(event_ids)
    for plan in plans:
        if plan.action == Action.ATTRIBUTE:
            plan.detail = plan.detail.replace("Would be attributed", "Attributed", 1)
    return plans


def _misses_by_customer(customer_ids: list[int]) -> dict[int, list[tuple]]:
    out: dict[int, list[tuple]] = {}
    rows = AttributionMiss.objects.filter(customer_id__in=customer_ids).order_by("pk")
    for row in rows.values_list("customer_id", "hint", "value", "reason"):
        out.setdefault(row[0], []).append(row)
    return out


def plans_summary(plans: list[Plan]) -> dict[str, int]:
    counts = {Action.ATTRIBUTE: 0, Action.UNCHANGED: 0, Action.SKIPPED: 0, Action.REFUSED: 0}
    for plan in plans:
        counts[plan.action] += 1
    return counts


def customers_for_rerun(*, brand_id: int | None = None, reason: str = "", limit: int = MAX_CUSTOMERS) -> list[int]:
    """Ids of unattributed customers with a failed hint (of `reason`), oldest first: a bulk re-run's selection."""
    queryset = Customer.objects.filter(affiliate__isnull=True).filter(
        Q(attribution_misses__reason=reason) if reason else Q(attribution_misses__isnull=False)
    )
    if brand_id is not None:
        queryset = queryset.filter(brand_id=brand_id)
    return list(queryset.order_by("pk").values_list("pk", flat=True).distinct()[:limit])

"""Writes of the commissions app: event processing, period close, holds, manager decisions and
recalculation. Every function here is keyword-only and the only way entries change."""

import datetime as dt
import secrets
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from affiliates.choices import AffiliateStatus
from affiliates.models import Affiliate, Brand
from core.audit import audit_collect, audit_record
from core.problems import Problem
from integrations.webhooks.outbox import outbox_collect
from reports.upkeep import rollups_mark
from tracking.choices import EventType
from tracking.models import ConversionEvent, Customer

from . import engine, ledger
from .choices import OPEN_STATUSES, EntryKind, EntryStatus
from .models import CommissionEntry

REFERRING = engine.REFERRING


def _ledger_cpa_prior(deals: engine.Deals):
    """Tier and cap counts for one customer's CPA, read from the ledger (see engine.CpaCounter)."""

    def prior(c: engine.CpaCandidate) -> tuple[int, int]:
        counted = (
            CommissionEntry.objects.filter(
                kind=EntryKind.CPA, affiliate_id=c.affiliate_id, deal_id=c.terms.deal_id, period=c.period,
                reversals__isnull=True,
            )
            .exclude(status__in=(EntryStatus.REJECTED, EntryStatus.REVERSED))
            .exclude(customer_id=c.customer.id)
            .filter(Q(occurred_at__lt=c.qualified_at) | Q(occurred_at=c.qualified_at, customer_id__lt=c.customer.id))
        )  # fmt: skip
        tz = deals.tz[c.customer.brand_id]
        day_start = dt.datetime.combine(c.day, dt.time.min, tzinfo=tz)
        return counted.count(), counted.filter(occurred_at__gte=day_start).count()

    return prior


def _closed(deals: engine.Deals, brand_id: int, period: str, now: dt.datetime) -> bool:
    return deals.period_bounds(brand_id, period)[1] <= now


def commission_process_event(*, event_id: int) -> list[CommissionEntry]:
    """Compute (or re-evaluate) what canonical event `event_id` pays for. Safe to run any number of
    times, in any order, by concurrent workers: each slot is booked once, reversals once."""
    event = ConversionEvent.objects.filter(pk=event_id).select_related("ref_event").first()
    if event is None:
        return []
    target = event.ref_event if event.type in REFERRING and event.ref_event_id else event
    if target.customer_id is None:
        return []
    customer = Customer.objects.get(pk=target.customer_id)
    now = timezone.now()
    with transaction.atomic():
        # One worker per affiliate at a time: tier ranks and caps count the affiliate's other CPAs.
        affiliate_id = target.affiliate_id or customer.affiliate_id
        if affiliate_id is not None:
            list(Affiliate.objects.select_for_update().filter(pk=affiliate_id).values_list("pk"))
        deals = engine.Deals({customer.brand_id})
        scope = engine.compute(
            events=engine.load_events(ConversionEvent.objects.filter(customer_id=customer.pk)),
            refs=engine.refs_of(Q(customer_id=customer.pk)),
            customers=engine.load_customers([customer.pk]),
            deals=deals,
            fx=engine.Fx(),
            cpa_counter=engine.CpaCounter(seed=_ledger_cpa_prior(deals)),
        )
        booker = ledger.Booker(deals=deals, now=now)
        existing = ledger.entries_by_slot(CommissionEntry.objects.filter(customer_id=customer.pk))
        ledger.sync(scope.intended, existing, booker=booker, voided=scope.voided)
    if target.type in (EventType.REVENUE, EventType.FTD) and affiliate_id is not None:
        # Late revenue for a closed month re-closes it for this affiliate, and the closed months after it
        # (a negative carryover runs on).
        period = deals.period(target.brand_id, target.occurred_at)
        while _closed(deals, target.brand_id, period, now):
            booker.created += commission_period_close(
                brand_id=target.brand_id, period=period, affiliate_ids=[affiliate_id], now=now
            )
            period = _next_period(period)
    return booker.created


def _next_period(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{year + (month == 12):04d}-{month % 12 + 1:02d}"


@dataclass
class ScopeResult:
    intended: list[engine.Intended] = field(default_factory=list)
    existing: dict = field(default_factory=dict)
    voided: dict = field(default_factory=dict)
    deals: engine.Deals | None = None
    events: int = 0
    skipped: list[str] = field(default_factory=list)


def compute_scope(
    *,
    brand_id: int | None = None,
    period: str | None = None,
    affiliate_id: int | None = None,
    affiliate_ids: list[int] | None = None,
    now: dt.datetime | None = None,
) -> ScopeResult:
    """What the events say the ledger of a scope should hold, and what it holds: a brand's month, an
    affiliate (all months, or one), or both. Reads in bulk: a few queries whatever the size."""
    now = now or timezone.now()
    owners = list(affiliate_ids or []) + ([affiliate_id] if affiliate_id else [])
    customers_q = Customer.objects.all()
    entries_q = CommissionEntry.objects.all()
    if brand_id:
        customers_q = customers_q.filter(brand_id=brand_id)
        entries_q = entries_q.filter(brand_id=brand_id)
    if owners:
        children = list(Affiliate.objects.filter(parent_id__in=owners).values_list("pk", flat=True))
        customers_q = customers_q.filter(affiliate_id__in=owners + children)
        entries_q = entries_q.filter(Q(affiliate_id__in=owners) | Q(source_affiliate_id__in=owners))
    start = end = None
    event_q = ConversionEvent.objects.all()
    if period:
        entries_q = entries_q.filter(period=period)
    if brand_id and period:
        deals_probe = engine.Deals({brand_id})
        start, end = deals_probe.period_bounds(brand_id, period)
        active = ConversionEvent.objects.filter(brand_id=brand_id, occurred_at__gte=start, occurred_at__lt=end)
        customers_q = customers_q.filter(pk__in=active.values("customer_id"))
    events = engine.load_events(event_q.filter(customer_id__in=customers_q.values("pk")))
    if start is not None:
        # Earlier revenue of the same affiliates feeds the negative carryover.
        seen = {e.id for e in events}
        earlier = ConversionEvent.objects.filter(brand_id=brand_id, type=EventType.REVENUE, occurred_at__lt=start)
        if owners:
            earlier = earlier.filter(affiliate_id__in=owners)
        else:
            earlier = earlier.filter(affiliate_id__in=active.values("affiliate_id"))
        events += [e for e in engine.load_events(earlier) if e.id not in seen]
    brand_ids = {e.brand_id for e in events} | ({brand_id} if brand_id else set())
    deals = engine.Deals(brand_ids)
    periods = {deals.period(e.brand_id, e.occurred_at) for e in events}
    closed = {p for p in periods if all(_closed(deals, b, p, now) for b in brand_ids)}
    if period:
        closed &= {period}
    customers = engine.load_customers(Customer.objects.filter(pk__in=customers_q.values("pk")))
    missing = {e.customer_id for e in events if e.customer_id and e.customer_id not in customers}
    customers.update(engine.load_customers(missing))
    scope = engine.compute(
        events=events,
        refs=engine.refs_of(Q(customer_id__in=customers_q.values("pk"))),
        customers=customers,
        deals=deals,
        fx=engine.Fx(),
        closed_periods=closed,
    )
    intended = scope.intended
    if period:
        intended = [i for i in intended if i.period == period]
    if owners:
        intended = [i for i in intended if i.affiliate_id in owners or i.source_affiliate_id in owners]
    return ScopeResult(
        intended=intended, existing=ledger.entries_by_slot(entries_q), voided=scope.voided, deals=deals,
        events=len(events), skipped=scope.skipped,
    )  # fmt: skip


def commission_period_close(
    *, brand_id: int, period: str, affiliate_ids: list[int] | None = None, now: dt.datetime | None = None
) -> list[CommissionEntry]:
    """Book a closed month: RevShare, whole-period tier adjustments, anything not yet booked. Running
    it again books only what changed since (late revenue, chargebacks)."""
    now = now or timezone.now()
    with transaction.atomic():
        result = compute_scope(brand_id=brand_id, period=period, affiliate_ids=affiliate_ids, now=now)
        booker = ledger.Booker(deals=result.deals, now=now)
        ledger.sync(result.intended, result.existing, booker=booker, voided=result.voided)
    return booker.created


CLOSE_DAYS = 7  # a month is (re)closed by beat during the first week after it ends; later data closes itself


def commission_close_last_month(*, now: dt.datetime | None = None) -> int:
    """For every brand, close the month that ended most recently in its time zone (during the first
    CLOSE_DAYS of the new month; an event that arrives later for a closed month re-closes it itself)."""
    now = now or timezone.now()
    booked = 0
    for brand in Brand.objects.all():
        deals = engine.Deals({brand.pk})
        local = deals.local(brand.pk, now)
        if local.day > CLOSE_DAYS:
            continue
        first = local.replace(day=1)
        previous = first - dt.timedelta(days=1)
        booked += len(commission_period_close(brand_id=brand.pk, period=engine.period_of(previous), now=now))
    return booked


@dataclass
class Recalculation:
    """The outcome of a recalculation: the differences, and the entries booked if applied."""

    batch: str
    diffs: list[ledger.Diff]
    booked: list[CommissionEntry]
    applied: bool

    def as_dict(self) -> dict:
        return {
            "batch": self.batch, "applied": self.applied, "differences": [d.as_dict() for d in self.diffs],
            "booked": [e.pk for e in self.booked],
        }  # fmt: skip


def commission_recalculate(
    *,
    affiliate: Affiliate | None = None,
    brand: Brand | None = None,
    period: str | None = None,
    apply: bool = False,
    by=None,
) -> Recalculation:
    """Recompute an affiliate's or a brand month's commissions from the events under the terms in
    force on each date. With apply=False (what-if) nothing is written; with apply=True every
    difference is booked as an adjustment entry (approved or paid entries are never edited)."""
    if affiliate is None and brand is None:
        raise Problem(status_code=400, code="scope_required", title="Give an affiliate, a brand, or both.")
    if period is not None and (len(period) != 7 or period[4] != "-" or not (period[:4] + period[5:]).isdigit()):
        raise Problem(status_code=400, code="invalid_period", title="A period is YYYY-MM.")
    batch = f"R{timezone.now():%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
    with transaction.atomic():
        result = compute_scope(
            brand_id=brand.pk if brand else None, period=period, affiliate_id=affiliate.pk if affiliate else None
        )
        booker = ledger.Booker(deals=result.deals, batch=batch, bulk=True)
        if apply:
            diffs = ledger.sync(result.intended, result.existing, booker=booker, mode=ledger.RECALC)
            booker.flush()
        else:
            diffs = ledger.sync(
                result.intended, result.existing, booker=_DryRun(deals=result.deals), mode=ledger.RECALC
            )
    return Recalculation(batch=batch, diffs=diffs, booked=booker.created, applied=apply)


class _DryRun(ledger.Booker):
    """A booker that writes nothing: the what-if of a recalculation (sync() lists the differences)."""

    def _insert(self, entry):
        return None

    def book_new(self, item):
        return None

    def book_adjustment(self, item, *, seq, diff, why):
        return None

    def book_correction(self, entries, *, diff, why):
        return None

    def reverse_slot(self, entries, *, reason):
        return []

    def release(self, entries, item):
        return None

    def prepare(self, items):
        return None


def commission_release_holds(*, now: dt.datetime | None = None, chunk: int = 500) -> int:
    """Approve entries whose hold has passed, whose events are qualified and whose affiliate is active.
    Entries flagged for review wait for a person (commission_approve, or commission_review_clear)."""
    now = now or timezone.now()
    due = CommissionEntry.objects.filter(
        status=EntryStatus.ON_HOLD, hold_until__lte=now, affiliate__status=AffiliateStatus.ACTIVE, review_flag=False
    ).order_by("pk")
    approved = 0
    pks = list(due.values_list("pk", flat=True)[:chunk])
    while pks:
        with transaction.atomic():
            # rows another run holds are its to release; the compare-and-swap below decides the rest
            rows = list(
                CommissionEntry.objects.select_for_update(skip_locked=_skip_locked())
                .filter(pk__in=pks, status=EntryStatus.ON_HOLD, review_flag=False)
                .order_by("pk")
            )
            if rows:
                CommissionEntry.objects.filter(pk__in=[r.pk for r in rows], status=EntryStatus.ON_HOLD).update(
                    status=EntryStatus.APPROVED, decided_at=now
                )
            with outbox_collect(), audit_collect():
                for entry in rows:
                    entry.status, entry.decided_at = EntryStatus.APPROVED, now
                    ledger.announce(entry, "commission.approved")
                    audit_record(
                        obj=entry, changes={"status": (EntryStatus.ON_HOLD, EntryStatus.APPROVED)},
                        reason="Hold ended.",
                    )  # fmt: skip
            approved += len(rows)
        pks = list(due.filter(pk__gt=pks[-1]).values_list("pk", flat=True)[:chunk])
    return approved


def _skip_locked() -> bool:
    return connection.features.has_select_for_update_skip_locked


def _review_cleared(entry: CommissionEntry, *, by, now, note: str) -> dict:
    """The columns that settle an entry's review flag (nothing if it has none)."""
    if not entry.review_flag:
        return {}
    return {"review_flag": False, "review_cleared_by": by, "review_cleared_at": now, "review_note": note[:500]}


def _decide(entries, *, to: str, reason: str, by) -> list[CommissionEntry]:
    now = timezone.now()
    done = []
    records = []
    entries = list(entries)
    if to == EntryStatus.REJECTED:
        # A rejected commission takes the parent's override on it along.
        seen = {e.pk for e in entries}
        for entry in list(entries):
            entries += [
                sub
                for sub in CommissionEntry.objects.filter(
                    kind=EntryKind.SUBAFFILIATE, slot__endswith=f":{entry.slot}", status__in=OPEN_STATUSES
                )
                if sub.pk not in seen
            ]
    with transaction.atomic():
        for entry in sorted(entries, key=lambda e: e.pk):
            if entry.status not in OPEN_STATUSES:
                raise Problem(
                    status_code=409, code="entry_not_open",
                    title="Only pending or on-hold entries can be approved or rejected.",
                    detail=f"Entry {entry.pk} is {entry.status}; book a reversal or an adjustment instead.",
                )  # fmt: skip
            if entry.kind == EntryKind.REVERSAL:
                raise Problem(status_code=409, code="entry_is_reversal", title="A reversal cannot be decided on.")
            verb = "Approved" if to == EntryStatus.APPROVED else "Rejected"
            review = _review_cleared(entry, by=by, now=now, note=f"{verb}: {reason}")
            changed = CommissionEntry.objects.filter(pk=entry.pk, status=entry.status).update(
                status=to, status_reason=reason[:500], decided_by=by, decided_at=now, **review
            )
            if not changed:
                raise Problem(status_code=409, code="entry_changed", title="The entry changed meanwhile; retry.")
            changes = {"status": (entry.status, to)}
            if review:
                changes["review_flag"] = (True, False)
            entry.refresh_from_db()
            if to == EntryStatus.REJECTED:
                rollups_mark(pairs=[(entry.affiliate_id, entry.occurred_at)])
            if to == EntryStatus.APPROVED:
                ledger.announce(entry, "commission.approved")
            records.append((entry, changes))
            done.append(entry)
        with audit_collect():
            for entry, changes in records:
                audit_record(obj=entry, changes=changes, actor=by, reason=reason)
    return done


def commission_approve(*, entries, reason: str = "", by=None) -> list[CommissionEntry]:
    """Approve pending or on-hold entries early (before their hold ends), in bulk."""
    return _decide(list(entries), to=EntryStatus.APPROVED, reason=reason or "Approved early by a manager.", by=by)


def commission_reject(*, entries, reason: str, by=None) -> list[CommissionEntry]:
    """Reject pending or on-hold entries, in bulk, with a reason; approved or paid ones are reversed instead."""
    if not reason or not reason.strip():
        raise Problem(status_code=400, code="reason_required", title="A reason is required to reject.")
    return _decide(list(entries), to=EntryStatus.REJECTED, reason=reason.strip(), by=by)


def commission_review_clear(*, entries, note: str, by=None) -> list[CommissionEntry]:
    """Clear the review flag of flagged entries, with what the reviewer found: they go back to the normal
    workflow (the hold release approves them once their hold has passed). All or none."""
    note = (note or "").strip()
    if not note:
        raise Problem(status_code=400, code="note_required", title="Say what the review found to clear a flag.")
    now = timezone.now()
    entries = sorted(entries, key=lambda e: e.pk)
    with transaction.atomic():
        for entry in entries:
            if not entry.review_flag:
                raise Problem(
                    status_code=409, code="entry_not_flagged", title="Only flagged entries can be cleared.",
                    detail=f"Entry {entry.pk} is not flagged for review.",
                )  # fmt: skip
            changed = CommissionEntry.objects.filter(pk=entry.pk, review_flag=True).update(
                **_review_cleared(entry, by=by, now=now, note=note)
            )
            if not changed:
                raise Problem(status_code=409, code="entry_changed", title="The entry changed meanwhile; retry.")
            entry.refresh_from_db()
        with audit_collect():
            for entry in entries:
                audit_record(obj=entry, changes={"review_flag": (True, False)}, actor=by, reason=note)
    return entries

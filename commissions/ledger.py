"""Booking: turns what the engine intends into ledger rows, once.

Every write here is an INSERT of a new row (unique on (slot, seq), so a second worker computing the
same slot fails its insert and changes nothing) or a compare-and-swap status update. Amounts are
quantized here, half-even per currency, and nowhere earlier.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q, Sum
from django.utils import timezone

from affiliates.choices import AffiliateStatus
from core.money import quantize
from integrations.webhooks.outbox import outbox_collect, outbox_publish

from .choices import COUNTED_STATUSES, OPEN_STATUSES, EntryKind, EntryStatus
from .engine import ZERO, Deals, Intended, money
from .models import CommissionEntry

AUTO = "auto"
RECALC = "recalc"


def entry_data(entry: CommissionEntry) -> dict:
    """An entry as JSON-safe data for webhooks."""
    return {
        "id": entry.pk, "slot": entry.slot, "kind": entry.kind, "status": entry.status,
        "affiliate_id": entry.affiliate_id, "brand_id": entry.brand_id, "customer_id": entry.customer_id,
        "deal_version_id": entry.deal_version_id, "amount": str(quantize(entry.amount, entry.currency)),
        "currency": entry.currency, "period": entry.period, "hold_until": entry.hold_until.isoformat()
        if entry.hold_until else None, "events": entry.events, "explanation": entry.explanation,
        "reverses": entry.reverses_id,
    }  # fmt: skip


def announce(entry: CommissionEntry, type: str) -> None:
    outbox_publish(type=type, data=entry_data(entry), affiliate_id=entry.affiliate_id, brand_id=entry.brand_id)


def initial_status(item: Intended, *, now: dt.datetime, active: bool) -> str:
    if item.rejected_reason:
        return EntryStatus.REJECTED
    if item.pending:
        return EntryStatus.PENDING
    if item.hold_until <= now and active:
        return EntryStatus.APPROVED
    return EntryStatus.ON_HOLD


class Booked(NamedTuple):
    """The columns of a booked entry that comparing a slot needs (a month holds many thousands)."""

    pk: int
    slot: str
    seq: int
    kind: str
    status: str
    amount: Decimal
    currency: str
    reverses_id: int | None
    decided: bool


def net(entries) -> Decimal:
    return sum((e.amount for e in entries if e.status in COUNTED_STATUSES), ZERO)


def entries_by_slot(queryset) -> dict[str, list[Booked]]:
    out: dict[str, list[Booked]] = defaultdict(list)
    decided = ExpressionWrapper(Q(decided_at__isnull=False), output_field=BooleanField())
    rows = queryset.annotate(_decided=decided).order_by("slot", "seq")
    for row in rows.values_list(*Booked._fields[:-1], "_decided").iterator(chunk_size=20000):
        out[row[1]].append(Booked(*row))
    return out


def full(slot: str) -> list[CommissionEntry]:
    return list(CommissionEntry.objects.filter(slot=slot).order_by("seq"))


def _manager_rejected(entries) -> bool:
    return any(e.status == EntryStatus.REJECTED and e.decided for e in entries)


@dataclass
class Diff:
    """One slot whose ledger differs from what the events say it should be."""

    slot: str
    affiliate_id: int
    kind: str
    currency: str
    booked: Decimal
    intended: Decimal
    explanation: str

    @property
    def difference(self) -> Decimal:
        return self.intended - self.booked

    def as_dict(self) -> dict:
        return {
            "slot": self.slot, "affiliate_id": self.affiliate_id, "kind": self.kind, "currency": self.currency,
            "booked": str(self.booked), "intended": str(self.intended), "difference": str(self.difference),
            "explanation": self.explanation,
        }  # fmt: skip


class Booker:
    """Books entries for one run; `created` lists what it wrote."""

    def __init__(self, *, deals: Deals, now: dt.datetime | None = None, batch: str = "", bulk: bool = False):
        self.deals = deals
        self.now = now or timezone.now()
        self.batch = batch
        self.created: list[CommissionEntry] = []
        # bulk: collect rows and insert them in batches by flush() (recalculation of a whole month). A
        # concurrent run that booked the same (slot, seq) makes the whole batch fail, never double-book.
        self.bulk = bulk
        self._queued: list[CommissionEntry] = []

    def flush(self) -> None:
        if not self._queued:
            return
        queued, self._queued = self._queued, []
        CommissionEntry.objects.bulk_create(queued, batch_size=5000)
        self.created.extend(queued)
        with outbox_collect():  # one INSERT for the batch's announcements
            for entry in queued:
                self._announce_new(entry)

    def _announce_new(self, entry: CommissionEntry) -> None:
        if entry.kind == EntryKind.REVERSAL:
            announce(entry, "commission.reversed")
        else:
            announce(entry, "commission.created")
            if entry.status == EntryStatus.APPROVED:
                announce(entry, "commission.approved")

    def active(self, affiliate_id: int) -> bool:
        return self.deals.affiliate_status(affiliate_id)[0] == AffiliateStatus.ACTIVE

    def _insert(self, entry: CommissionEntry) -> CommissionEntry | None:
        if self.bulk:
            self._queued.append(entry)
            return entry
        try:
            with transaction.atomic():
                entry.save(force_insert=True)
        except IntegrityError:
            return None  # another worker booked this (slot, seq) first: the work is done
        self.created.append(entry)
        self._announce_new(entry)
        return entry

    def _entry(self, item: Intended, *, seq: int, kind: str, amount: Decimal, explanation: str, status: str):
        return CommissionEntry(
            slot=item.slot, seq=seq, kind=kind, status=status, affiliate_id=item.affiliate_id, brand_id=item.brand_id,
            customer_id=item.customer_id, deal_id=item.deal_id, deal_version_id=item.deal_version_id,
            source_affiliate_id=item.source_affiliate_id, amount=amount, currency=item.currency, period=item.period,
            occurred_at=item.occurred_at, hold_until=item.hold_until, events=item.events, explanation=explanation,
            status_reason=item.rejected_reason[:500], batch=self.batch,
        )  # fmt: skip

    def book_new(self, item: Intended) -> CommissionEntry | None:
        status = initial_status(item, now=self.now, active=self.active(item.affiliate_id))
        entry = self._entry(item, seq=0, kind=item.kind, amount=item.quantized, explanation=item.explanation,
                            status=status)  # fmt: skip
        return self._insert(entry)

    def book_adjustment(self, item: Intended, *, seq: int, diff: Decimal, why: str) -> CommissionEntry | None:
        status = initial_status(item, now=self.now, active=self.active(item.affiliate_id))
        if status == EntryStatus.REJECTED:
            status = EntryStatus.ON_HOLD
        text = f"Adjustment {money(diff, item.currency)} ({why}). {item.explanation}"
        entry = self._entry(item, seq=seq, kind=EntryKind.ADJUSTMENT, amount=diff, explanation=text, status=status)
        return self._insert(entry)

    def book_correction(self, entries: list[CommissionEntry], *, diff: Decimal, why: str) -> CommissionEntry | None:
        """An adjustment for a slot the events no longer pay for at all (recalculation)."""
        last = entries[-1]
        entry = CommissionEntry(
            slot=last.slot, seq=last.seq + 1, kind=EntryKind.ADJUSTMENT, affiliate_id=last.affiliate_id,
            brand_id=last.brand_id, customer_id=last.customer_id, deal_id=last.deal_id,
            deal_version_id=last.deal_version_id, source_affiliate_id=last.source_affiliate_id, amount=diff,
            currency=last.currency, period=last.period, occurred_at=last.occurred_at, hold_until=self.now,
            events=last.events, status=EntryStatus.APPROVED if self.active(last.affiliate_id) else EntryStatus.ON_HOLD,
            explanation=f"Adjustment {money(diff, last.currency)} ({why}): the events no longer pay for this.",
            batch=self.batch,
        )  # fmt: skip
        return self._insert(entry)

    def reverse_slot(self, entries: list[CommissionEntry], *, reason: str) -> list[CommissionEntry]:
        """Book a reversal of every counted, not yet reversed entry of a slot."""
        reversed_ids = {e.reverses_id for e in entries if e.reverses_id}
        seq = entries[-1].seq + 1
        out = []
        for original in entries:
            if original.kind == EntryKind.REVERSAL or original.pk in reversed_ids:
                continue
            if original.status not in COUNTED_STATUSES or original.amount == 0:
                continue
            was_open = original.status in OPEN_STATUSES
            if was_open:
                CommissionEntry.objects.filter(pk=original.pk, status=original.status).update(
                    status=EntryStatus.REVERSED, status_reason=reason[:500]
                )
            entry = CommissionEntry(
                slot=original.slot, seq=seq, kind=EntryKind.REVERSAL,
                status=EntryStatus.REVERSED if was_open else EntryStatus.APPROVED, affiliate_id=original.affiliate_id,
                brand_id=original.brand_id, customer_id=original.customer_id, deal_id=original.deal_id,
                deal_version_id=original.deal_version_id, source_affiliate_id=original.source_affiliate_id,
                amount=-original.amount, currency=original.currency, period=original.period,
                occurred_at=original.occurred_at, hold_until=None, events=original.events, reverses=original,
                explanation=f"Reversal of {money(original.amount, original.currency)} ({original.kind} entry "
                f"#{original.pk}): {reason}",
                status_reason=reason[:500],
            )  # fmt: skip
            seq += 1
            if self._insert(entry) is not None:
                out.append(entry)
        return out

    def release(self, entries: list[Booked], item: Intended) -> None:
        """Pending entries whose events are all qualified now wait only for their hold."""
        if item.pending:
            return
        for booked in entries:
            if booked.status != EntryStatus.PENDING:
                continue
            entry = CommissionEntry.objects.get(pk=booked.pk)
            due = entry.hold_until is None or entry.hold_until <= self.now
            target = EntryStatus.APPROVED if due and self.active(entry.affiliate_id) else EntryStatus.ON_HOLD
            if CommissionEntry.objects.filter(pk=entry.pk, status=EntryStatus.PENDING).update(status=target):
                entry.status = target
                if target == EntryStatus.APPROVED:
                    announce(entry, "commission.approved")


def void_reason(event_ids, voided: dict[int, str]) -> str:
    hits = [f"event {i} {voided[i]}" for i in event_ids if i in voided]
    return "; ".join(hits) + "."


def sync(
    intended: list[Intended],
    existing: dict[str, list[Booked]],
    *,
    booker: Booker,
    mode: str = AUTO,
    voided: dict[int, str] | None = None,
) -> list[Diff]:
    """Bring the ledger of a scope to what the events say.

    auto (event processing, period close): book slots not yet booked, reverse slots whose events were
    rejected, refunded or charged back, follow the month's figures for RevShare and whole-period tier
    slots, release entries whose events qualified. A booked slot is otherwise never changed: new terms
    never reach back.
    recalc (a manager's explicit recalculation): every difference becomes an adjustment entry.
    Returns the differences found (in auto mode, those it left alone are not listed).
    """
    voided = voided or {}
    diffs: list[Diff] = []
    wanted = {item.slot: item for item in intended}
    for slot, item in wanted.items():
        entries = existing.get(slot, [])
        if not entries:
            if item.payable == 0 and not item.rejected_reason:
                continue
            diffs.append(Diff(slot, item.affiliate_id, item.kind, item.currency, ZERO, item.payable, item.explanation))
            if mode == AUTO:
                booker.book_new(item)
            else:
                booker.book_adjustment(item, seq=0, diff=item.payable, why=f"recalculation {booker.batch}")
            continue
        booked = net(entries)
        diff = item.payable - booked
        if mode == AUTO:
            if item.auto_adjust and diff:
                diffs.append(
                    Diff(slot, item.affiliate_id, item.kind, item.currency, booked, item.payable, item.explanation)
                )
                booker.book_adjustment(item, seq=entries[-1].seq + 1, diff=diff, why="the month's figures changed")
            booker.release(entries, item)
        elif diff and not _manager_rejected(entries):
            diffs.append(
                Diff(slot, item.affiliate_id, item.kind, item.currency, booked, item.payable, item.explanation)
            )
            booker.book_adjustment(item, seq=entries[-1].seq + 1, diff=diff, why=f"recalculation {booker.batch}")
    for slot, entries in existing.items():
        if slot in wanted:
            continue
        booked = net(entries)
        if not booked:
            continue
        if mode == AUTO:
            if not voided:
                continue
            rows = full(slot)
            first = rows[0]
            if any(i in voided for i in first.events):
                diffs.append(Diff(slot, first.affiliate_id, first.kind, first.currency, booked, ZERO, ""))
                booker.reverse_slot(rows, reason=void_reason(first.events, voided))
        elif not _manager_rejected(entries):
            rows = full(slot)
            first = rows[0]
            diffs.append(Diff(slot, first.affiliate_id, first.kind, first.currency, booked, ZERO, ""))
            booker.book_correction(rows, diff=-booked, why=f"recalculation {booker.batch}")
    return diffs


def balance(*, affiliate_id: int, currency: str | None = None) -> dict[str, Decimal]:
    """An affiliate's balance per currency: the sum of its counted entries (rejected ones never count)."""
    rows = CommissionEntry.objects.filter(affiliate_id=affiliate_id, status__in=COUNTED_STATUSES)
    if currency:
        rows = rows.filter(currency=currency)
    totals = rows.values("currency").annotate(total=Sum("amount")).order_by("currency")
    return {row["currency"]: quantize(row["total"], row["currency"]) for row in totals}


def entries_mark_paid(*, entry_ids: list[int]) -> int:
    """Approved → paid, by compare-and-swap, for the entries of a paid payout statement. Returns how many
    rows changed: the caller compares it with len(entry_ids) and rolls back if an entry was not approved.
    A paid entry is locked: nothing moves it again, and no statement takes it."""
    changed = 0
    ids = sorted(set(entry_ids))
    for start in range(0, len(ids), 5000):
        changed += CommissionEntry.objects.filter(pk__in=ids[start : start + 5000], status=EntryStatus.APPROVED).update(
            status=EntryStatus.PAID
        )
    return changed

"""Review flags: a new entry that is large, or unusual for its affiliate, waits for a person.

A brand's ReviewPolicy names the thresholds: an amount over X; an entry more than N times the
affiliate's average entry over its trailing history; an entry that takes the affiliate's day total over
M times its average day. They are evaluated by the Booker on the rows it is about to insert, so a
flagged entry is written flagged (never approved, see `flagged_status`), with the reason as a sentence.

Booking handles thousands of events a second, so evaluation reads in bulk and only what it needs: the
enabled policies once per booking run (a few rows), then, only for brands with a rise factor, the
affiliates' day totals (AffiliateDayTotal, at most `history_days` + 1 rows per affiliate) with one
query for every affiliate of a batch not read yet. The booking adds what it wrote to those totals with
one upsert per batch (`tally`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from core.money import quantize

from .choices import EntryKind, EntryStatus
from .models import AffiliateDayTotal, CommissionEntry, ReviewPolicy

ZERO = Decimal("0")
NOT_REVIEWED = (EntryKind.REVERSAL,)


def _money(value: Decimal, currency: str) -> str:
    return f"{quantize(value, currency):,} {currency}"


def _times(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.1'))}"


@dataclass
class History:
    """An affiliate's booked history in one brand and currency: the window before today, and today."""

    entries: int = 0
    total: Decimal = ZERO
    first_day: dt.date | None = None
    today: Decimal = ZERO

    def days(self, today: dt.date, window: int) -> int:
        """Days the averages run over: the window, or since the first booked day if that is later."""
        if self.first_day is None:
            return 0
        return min(window, (today - self.first_day).days)


def reviewable(entry: CommissionEntry) -> bool:
    return entry.amount > 0 and entry.kind not in NOT_REVIEWED and entry.status != EntryStatus.REJECTED


def flagged_status(status: str) -> str:
    """A flagged entry is never born approved: it waits on hold (its hold may already be over) for a person."""
    return EntryStatus.ON_HOLD if status == EntryStatus.APPROVED else status


class Reviewer:
    """Review-flag evaluation for one booking run. `day_of(brand_id)` gives today's date in the brand's
    time zone."""

    def __init__(self, *, day_of):
        self.day_of = day_of
        self._policies: dict[int, ReviewPolicy] | None = None
        self._history: dict[tuple[int, int, str], History] = {}

    def policies(self) -> dict[int, ReviewPolicy]:
        if self._policies is None:
            self._policies = {p.brand_id: p for p in ReviewPolicy.objects.filter(enabled=True)}
        return self._policies

    def prefetch(self, keys) -> None:
        """Read the history of (affiliate, brand, currency) `keys` about to be booked, in one query
        (a period close books thousands of affiliates: one query, not one per affiliate)."""
        policies = self.policies()
        wanted = {
            key for key in keys
            if key[1] in policies and _uses_history(policies[key[1]]) and key not in self._history
        }  # fmt: skip
        if wanted:
            self._load(wanted, policies)

    def evaluate(self, entries: list[CommissionEntry]) -> list[CommissionEntry]:
        """Flag the unsaved `entries` that their brand's policy asks a person to review (sets review_flag,
        review_reason and an approved status back to on hold). Returns the flagged ones."""
        policies = self.policies()
        if not policies:
            return []
        candidates = [e for e in entries if e.brand_id in policies and reviewable(e)]
        missing = {
            (e.affiliate_id, e.brand_id, e.currency)
            for e in candidates
            if _uses_history(policies[e.brand_id]) and (e.affiliate_id, e.brand_id, e.currency) not in self._history
        }
        if missing:
            self._load(missing, policies)
        flagged = []
        for entry in candidates:
            reasons = self._reasons(entry, policies[entry.brand_id])
            if reasons:
                entry.review_flag = True
                entry.review_reason = " ".join(reasons)[:500]
                entry.status = flagged_status(entry.status)
                flagged.append(entry)
        return flagged

    def _reasons(self, entry: CommissionEntry, policy: ReviewPolicy) -> list[str]:
        reasons = []
        amount, currency = entry.amount, entry.currency
        if policy.amount_over is not None and amount > policy.amount_over:
            reasons.append(
                f"Amount {_money(amount, currency)} is over the brand's review threshold of "
                f"{_money(policy.amount_over, currency)}."
            )
        if not _uses_history(policy):
            return reasons
        key = (entry.affiliate_id, entry.brand_id, currency)
        history = self._history.setdefault(key, History())
        today = self.day_of(entry.brand_id)
        days = history.days(today, policy.history_days)
        enough = days > 0 and history.entries >= max(policy.min_history_entries, 1) and history.total > 0
        window = f"the last {days} day{'s' if days != 1 else ''}"
        if enough and policy.entry_rise_factor is not None:
            average = history.total / history.entries
            if amount > average * policy.entry_rise_factor:
                reasons.append(
                    f"Amount {_money(amount, currency)} is {_times(amount / average)} times the affiliate's average "
                    f"entry of {_money(average, currency)} over {window} (review above "
                    f"{_times(policy.entry_rise_factor)} times)."
                )
        day_total = history.today + amount
        if enough and policy.day_rise_factor is not None:
            average_day = history.total / days
            if day_total > average_day * policy.day_rise_factor:
                reasons.append(
                    f"It takes the affiliate's total for {today.isoformat()} to {_money(day_total, currency)}, "
                    f"{_times(day_total / average_day)} times its average day of {_money(average_day, currency)} "
                    f"over {window} (review above {_times(policy.day_rise_factor)} times)."
                )
        # later entries of this run count the ones before them
        history.today = day_total
        return reasons

    def _load(self, keys: set[tuple[int, int, str]], policies: dict[int, ReviewPolicy]) -> None:
        longest = max(policies[b].history_days for _, b, _ in keys)
        start = min(self.day_of(b) for _, b, _ in keys) - dt.timedelta(days=longest)
        rows = AffiliateDayTotal.objects.filter(
            affiliate_id__in={a for a, _, _ in keys}, brand_id__in={b for _, b, _ in keys}, day__gte=start
        ).values_list("affiliate_id", "brand_id", "currency", "day", "total", "entries")
        for key in keys:
            self._history[key] = History()
        for affiliate_id, brand_id, currency, day, total, entries in rows:
            key = (affiliate_id, brand_id, currency)
            history = self._history.get(key)
            if history is None:
                continue
            today = self.day_of(brand_id)
            if day >= today:
                history.today += total
            elif day >= today - dt.timedelta(days=policies[brand_id].history_days):
                history.entries += entries
                history.total += total
                history.first_day = day if history.first_day is None else min(history.first_day, day)


def _uses_history(policy: ReviewPolicy) -> bool:
    return policy.entry_rise_factor is not None or policy.day_rise_factor is not None


def tally(entries: list[CommissionEntry], *, day_of) -> None:
    """Add booked entries to their affiliates' day totals: one upsert for the batch, rows in key order
    (two batches that share affiliates lock their rows in the same order, so they never deadlock)."""
    sums: dict[tuple[int, int, str, dt.date], list] = defaultdict(lambda: [ZERO, 0])
    for entry in entries:
        if not reviewable(entry):
            continue
        cell = sums[(entry.affiliate_id, entry.brand_id, entry.currency, day_of(entry.brand_id))]
        cell[0] += entry.amount
        cell[1] += 1
    if not sums:
        return
    table = connection.ops.quote_name(AffiliateDayTotal._meta.db_table)
    keys = sorted(sums)
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
        params = []
        for affiliate_id, brand_id, currency, day in chunk:
            total, count = sums[(affiliate_id, brand_id, currency, day)]
            params += [affiliate_id, brand_id, currency, day, total, count]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (affiliate_id, brand_id, currency, day, total, entries) VALUES {values} "  # noqa: S608 (names from the model)
                "ON CONFLICT (affiliate_id, brand_id, currency, day) DO UPDATE SET "
                f"total = {table}.total + excluded.total, entries = {table}.entries + excluded.entries",
                params,
            )

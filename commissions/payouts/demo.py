"""Demo payouts: four closed months of statements in every status (paid, approved with an invoice, a balance
carried under the threshold, cancelled and redone, drafts with an adjustment), for the partner login's affiliate
among others.

The months before the demo's events have no events of their own, so each affiliate's earlier commission is booked
as one approved ledger entry per month ("demo history", kind adjustment); the statements are then drawn up,
approved and paid through the same services the admin and the API call. Running it again changes nothing.
"""

import datetime as dt
import zoneinfo
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from affiliates import services as affiliates
from affiliates.choices import PayoutFrequency
from commissions.choices import EntryKind, EntryStatus
from commissions.models import CommissionEntry
from core.problems import Problem

from . import periods, services
from .choices import LIVE_STATUSES, StatementStatus
from .models import PayoutStatement

# (affiliate, brand slug, months back (1 = the last closed month), amount in the brand's currency, what to do)
HISTORY = [
    ("Casino Kings Media", "lucky-casino", 4, "420.00", "paid"),
    ("Casino Kings Media", "lucky-casino", 3, "385.50", "paid"),
    ("Casino Kings Media", "lucky-casino", 2, "512.25", "approved"),
    ("Casino Kings Media", "lucky-casino", 1, "298.40", "draft"),
    ("Bet Insider", "lucky-casino", 3, "250.00", "paid"),
    ("Bet Insider", "lucky-casino", 2, "300.00", "approved"),
    ("Slots Review Hub", "lucky-casino", 2, "60.00", "approved"),  # under the 100.00 threshold: carried
    ("Slots Review Hub", "lucky-casino", 1, "75.00", "draft"),  # 60.00 carried in: 135.00 to pay
    ("Pip Academy", "atlas-fx", 2, "640.80", "cancelled"),  # cancelled with a reason, then drawn up again
    ("Funded Talk", "summit-prop", 1, "410.00", "adjusted"),
]
INVOICING = {"Bet Insider": {"invoice_required": True, "vat_number": "MT20391234", "vat_rate": Decimal("18.00")}}
CANCEL_REASON = "Rebates recalculated after the price feed fix; drawn up again."
ADJUSTMENT = (Decimal("50.00"), "Bonus for the November promotion, agreed by the account manager")


def _month(brand, back: int, now: dt.datetime) -> periods.Period:
    local = now.astimezone(zoneinfo.ZoneInfo(brand.timezone))
    period = periods.last_closed(PayoutFrequency.MONTHLY, local)
    for _ in range(back - 1):
        period = periods.month(period.start - dt.timedelta(days=1))
    return period


def _history_entry(affiliate, brand, period: periods.Period, amount: str) -> None:
    slot = f"demo-history:{affiliate.pk}:{brand.pk}:{period.key}"
    if CommissionEntry.objects.filter(slot=slot).exists():
        return
    CommissionEntry(
        slot=slot, seq=0, kind=EntryKind.ADJUSTMENT, status=EntryStatus.APPROVED, affiliate=affiliate, brand=brand,
        amount=Decimal(amount), currency=brand.currency, period=period.key, batch="demo",
        occurred_at=dt.datetime.combine(period.start + dt.timedelta(days=14), dt.time(12), tzinfo=dt.UTC),
        explanation=f"Demo history: the commissions of {period.key} before the demo's events, as one approved entry.",
    ).save(force_insert=True)  # fmt: skip


def _live(affiliate, brand, period: periods.Period):
    return PayoutStatement.objects.filter(
        affiliate=affiliate, scope=services.scope_key(brand), period=period.key, status__in=LIVE_STATUSES
    ).first()


def _walk(affiliate, brand, period: periods.Period, action: str, by, now) -> str:
    statement = _live(affiliate, brand, period)
    if (
        action == "cancelled"
        and not PayoutStatement.objects.filter(
            affiliate=affiliate, period=period.key, status=StatementStatus.CANCELLED
        ).exists()
    ):
        if statement is None:
            [statement] = services.statement_generate(affiliate=affiliate, period=period.key, brand=brand, by=by,
                                                      now=now).statements  # fmt: skip
        services.statement_cancel(statement=statement, reason=CANCEL_REASON, by=by)
        statement = None
    if statement is None:
        [statement] = services.statement_generate(affiliate=affiliate, period=period.key, brand=brand, by=by,
                                                  now=now).statements  # fmt: skip
    if action == "adjusted" and not statement.adjustments.exists() and statement.status == StatementStatus.DRAFT:
        services.statement_adjust(statement=statement, amount=ADJUSTMENT[0], reason=ADJUSTMENT[1], by=by)
    if action in ("approved", "paid") and statement.status == StatementStatus.DRAFT:
        statement = services.statement_approve(statement=statement, by=by)
    if action == "paid" and statement.status == StatementStatus.APPROVED:
        paid_on = period.end + dt.timedelta(days=5)
        statement = services.statement_mark_paid(
            statement=statement, reference=f"DEMO-SEPA-{period.key}-{statement.pk}", paid_on=paid_on, by=by
        )
    return statement.status


def seed(ctx: dict) -> list[str]:
    now = timezone.now()
    by = ctx.get("admin")
    problems: list[str] = []
    with transaction.atomic():
        for name, values in INVOICING.items():
            affiliate = ctx["affiliates"].get(name)
            if affiliate is not None and not affiliate.invoice_required:
                ctx["affiliates"][name] = affiliates.affiliate_update(affiliate=affiliate, by=by, **values)
        steps = sorted(HISTORY, key=lambda row: (row[0], -row[2]))  # each affiliate's oldest month first
        for name, slug, back, amount, _ in steps:
            affiliate, brand = ctx["affiliates"].get(name), ctx["brands"].get(slug)
            if affiliate is not None and brand is not None:
                _history_entry(affiliate, brand, _month(brand, back, now), amount)
        for name, slug, back, _, action in steps:
            affiliate, brand = ctx["affiliates"].get(name), ctx["brands"].get(slug)
            if affiliate is None or brand is None:
                continue
            try:
                _walk(affiliate, brand, _month(brand, back, now), action, by, now)
            except Problem as problem:
                problems.append(f"{name} {slug}: {problem.title} {problem.detail}")
    counts = {s: PayoutStatement.objects.filter(status=s).count() for s in StatementStatus.values}
    lines = ["payout statements: " + ", ".join(f"{n} {s}" for s, n in counts.items())]
    return lines + [f"payouts: {p}" for p in problems]
